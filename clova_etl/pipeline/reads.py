"""Reading source objects: failing reads counted across runs, a request's bytes from its carriers.

- A read that keeps failing (permission denied, S3 AccessDenied, an I/O error) is retried by
  later runs, at most ``run.max_read_attempts`` runs; then the object is rejected ``unreadable``
  with the last error. The count lives in the shared store (``read_failures/``), so every
  process sees it; two processes failing at the same moment may count once (it only bounds a
  retry loop, nothing is paid).
- One request can be carried by several objects (byte-identical files: the ``request_id``
  derives from the content). When it is sent, each carrier is judged by its own bytes: the
  first one whose bytes still hash to the planned content is used, so the request is rejected
  ``source_changed`` only when every carrier changed.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterable, MutableMapping, Sequence
from typing import Any

import orjson

from clova_etl.identity import sha256_hex
from clova_etl.pipeline import errors
from clova_etl.pipeline.ledger import object_id
from clova_etl.pipeline.storage import Storage

logger = logging.getLogger("clova_etl.pipeline")


class ReadAttempts:
    """Failed reads of object versions, counted in the store across runs."""

    def __init__(self, store: Storage, limit: int) -> None:
        self.store = store
        self.limit = limit
        # What this instance (one batch, one planning) counted already: counted once.
        self._counted: dict[str, tuple[str, str] | None] = {}

    @staticmethod
    def _key(uri: str, version: str) -> str:
        return f"read_failures/{object_id(uri)}.{version}.json"

    def failed(self, uri: str, version: str, error: str) -> tuple[str, str] | None:
        """Count one failed read; the rejection ``(code, message)`` once the limit is reached."""
        key = self._key(uri, version)
        if key in self._counted:
            return self._counted[key]
        previous = self.store.read_if_exists(key)
        attempts = 1
        if previous:
            with contextlib.suppress(orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
                attempts += int(orjson.loads(previous).get("attempts", 0))
        self.store.write(key, orjson.dumps({"uri": uri, "attempts": attempts, "error": error}))
        result: tuple[str, str] | None = None
        if attempts >= self.limit:
            result = (
                errors.UNREADABLE,
                f"could not be read in {attempts} attempt(s) (run.max_read_attempts="
                f"{self.limit}): {error}",
            )
        else:
            logger.warning(
                "read of %s failed (attempt %d of %d): %s", uri, attempts, self.limit, error
            )
        self._counted[key] = result
        return result


def carriers(batch: Iterable[Any]) -> dict[str, list[str]]:
    """Keys of the objects carrying each request of a batch (requests or their dicts)."""
    out: dict[str, list[str]] = {}
    for req in batch:
        rid, key = (
            (req["request_id"], req["key"])
            if isinstance(req, dict)
            else (
                req.request_id,
                req.key,
            )
        )
        keys = out.setdefault(rid, [])
        if key not in keys:
            keys.append(key)
    return out


class RecentReads(OrderedDict[str, bytes | None]):
    """The last ``size`` objects read, for the other requests of the same objects.

    The requests of one object (the page ranges of a split PDF, twins) sit next to each other
    in a plan, so a few entries serve them all; a whole run's bytes are never held at once.
    """

    def __init__(self, size: int = 8) -> None:
        super().__init__()
        self.size = size

    def __getitem__(self, key: str) -> bytes | None:
        self.move_to_end(key)
        return super().__getitem__(key)

    def __setitem__(self, key: str, value: bytes | None) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


def request_bytes(
    source: Storage,
    sha256: str,
    keys: Sequence[str],
    cache: MutableMapping[str, bytes | None],
    attempts: ReadAttempts | None = None,
) -> bytes | tuple[str, str] | None:
    """The planned bytes of a request, read from the first intact of the objects ``keys``.

    Returns the bytes, a rejection ``(code, message)`` when every carrier changed or
    disappeared, or None when no carrier is intact and at least one could not be read (the
    request is deferred) — with ``attempts``, deferred a bounded number of times, then
    rejected ``unreadable`` with the error. ``cache`` keeps what was read (``b""`` for a
    vanished object, None for a failed read) for the other requests of the same objects.
    """
    failures: dict[str, str] = {}
    for key in dict.fromkeys(keys):
        if key not in cache:
            try:
                cache[key] = source.read(key)
            except FileNotFoundError:
                cache[key] = b""
            except errors.StorageError as exc:
                logger.warning("cannot read %s: %s", key, exc)
                cache[key] = None
                failures[key] = str(exc)
        data = cache[key]
        if data is None:
            failures.setdefault(key, "read failed earlier in this batch")
        elif sha256_hex(data) == sha256:
            return data
    if not failures:
        return _changed(keys)
    if attempts is None:
        return None
    # Counted per content (the bytes failing to be read under their keys), once per batch.
    return attempts.failed(source.uri_for(keys[0]), sha256[:16], "; ".join(failures.values()))


def _changed(keys: Sequence[str]) -> tuple[str, str]:
    names = ", ".join(repr(k) for k in dict.fromkeys(keys))
    return (
        errors.SOURCE_CHANGED,
        f"every object carrying this content changed or disappeared after planning ({names}); "
        "their new versions are processed as new objects",
    )


__all__ = ["ReadAttempts", "RecentReads", "carriers", "request_bytes"]
