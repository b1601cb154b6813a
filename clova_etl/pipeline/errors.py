"""Pipeline errors and the reason codes recorded for objects and requests that end badly.

Exceptions::

    PipelineError                 base of everything raised by clova_etl.pipeline
    ├── StorageError              a bucket/store operation failed (transient or misconfigured)
    │   ├── UnsafeKeyError        a key escapes the root or goes through a symlink (refused)
    │   └── NotRegularFileError   a FIFO, socket or device where a document was expected
    ├── ConfigurationError        the run cannot start (no invoke URL, auth rejected…)
    └── LoadError                 flatten or warehouse load failed for a run

Reason codes (``error_code`` of rejected/failed rows that are not CLOVA body codes) are the
constants below; CLOVA's own codes (``0011``, ``1021``…) are recorded as the API sent them.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of the pipeline's errors."""


class StorageError(PipelineError):
    """A bucket or store operation failed."""


class UnsafeKeyError(StorageError):
    """A key that is absolute, has ``..`` segments or goes through a symlink: refused."""


class NotRegularFileError(StorageError):
    """Not a regular file (FIFO, socket, device): refused without reading it."""


class ConfigurationError(PipelineError):
    """The run cannot proceed with this configuration (fix the settings, then re-run)."""


class LoadError(PipelineError):
    """Flattening or loading a run's results failed."""


# Rejected before any call (status "rejected"): the input is bad.
EMPTY_FILE = "empty_file"
UNSUPPORTED_FORMAT = "unsupported_format"
TOO_LARGE = "too_large"
TOO_MANY_PAGES = "too_many_pages"
UNREADABLE = "unreadable"
ENCRYPTED = "encrypted"
NO_ROUTE = "no_route"
UNSAFE_PATH = "unsafe_path"
READ_ERROR = "read_error"
NOT_A_REGULAR_FILE = "not_a_regular_file"

# Seen but deliberately not processed (status "skipped"): the configuration says so.
HIDDEN = "hidden"
IGNORED = "ignored"
SKIPPED_CODES = frozenset({HIDDEN, IGNORED})

# Failed after trying (status "failed").
TRANSIENT_LIMIT = "transient_failures_exhausted"
SOURCE_CHANGED = "source_changed"
# A 2xx answer that is no readable OCR result: billed, kept as received, not sent again.
UNREADABLE_ANSWER = "unreadable_answer"

__all__ = [
    "EMPTY_FILE",
    "ENCRYPTED",
    "HIDDEN",
    "IGNORED",
    "NOT_A_REGULAR_FILE",
    "NO_ROUTE",
    "READ_ERROR",
    "SKIPPED_CODES",
    "SOURCE_CHANGED",
    "TOO_LARGE",
    "TOO_MANY_PAGES",
    "TRANSIENT_LIMIT",
    "UNREADABLE",
    "UNREADABLE_ANSWER",
    "UNSAFE_PATH",
    "UNSUPPORTED_FORMAT",
    "ConfigurationError",
    "LoadError",
    "NotRegularFileError",
    "PipelineError",
    "StorageError",
    "UnsafeKeyError",
]
