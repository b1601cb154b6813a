"""Arrow types of what flatten reads: a raw-store envelope whose ``response`` is a CLOVA body.

The C++ JSON reader parses every document against :data:`DOCUMENT_SCHEMA`; keys that are not
declared here are ignored, so only what the tables need costs parse time. A bare response file is
read as ``{"response": <file>}``.
"""

from __future__ import annotations

import pyarrow as pa

_F64 = pa.float64()
_I64 = pa.int64()
_STR = pa.string()
_BOOL = pa.bool_()
_TS = pa.timestamp("us", tz="UTC")

VERTEX = pa.struct([("x", _F64), ("y", _F64)])
BOUNDING_POLY = pa.struct([("vertices", pa.list_(VERTEX))])
# V1 Template geometry.
BOUNDING = pa.struct([("top", _F64), ("left", _F64), ("width", _F64), ("height", _F64)])

SUBFIELD = pa.struct(
    [
        ("inferText", _STR),
        ("inferConfidence", _F64),
        ("lineBreak", _BOOL),
        ("boundingPoly", BOUNDING_POLY),
        ("bounding", BOUNDING),
    ]
)
FIELD = pa.struct(
    [
        ("name", _STR),
        ("valueType", _STR),
        ("inferText", _STR),
        ("inferConfidence", _F64),
        ("type", _STR),
        ("checked", _BOOL),
        ("lineBreak", _BOOL),
        ("boundingPoly", BOUNDING_POLY),
        ("bounding", BOUNDING),
        ("subFields", pa.list_(SUBFIELD)),
    ]
)
TITLE = pa.struct(
    [
        ("name", _STR),
        ("inferText", _STR),
        ("inferConfidence", _F64),
        ("boundingPoly", BOUNDING_POLY),
        ("bounding", BOUNDING),
        ("subFields", pa.list_(SUBFIELD)),
    ]
)
CELL_WORD = pa.struct(
    [("inferText", _STR), ("inferConfidence", _F64), ("boundingPoly", BOUNDING_POLY)]
)
# A line's own boundingPoly is not read: no table has a row per line.
CELL_LINE = pa.struct([("inferConfidence", _F64), ("cellWords", pa.list_(CELL_WORD))])
CELL = pa.struct(
    [
        ("rowIndex", _I64),
        ("columnIndex", _I64),
        ("rowSpan", _I64),
        ("columnSpan", _I64),
        ("inferConfidence", _F64),
        ("boundingPoly", BOUNDING_POLY),
        ("cellTextLines", pa.list_(CELL_LINE)),
    ]
)
TABLE = pa.struct(
    [("inferConfidence", _F64), ("boundingPoly", BOUNDING_POLY), ("cells", pa.list_(CELL))]
)
IMAGE = pa.struct(
    [
        ("uid", _STR),
        ("name", _STR),
        ("inferResult", _STR),
        ("message", _STR),
        ("matchedTemplate", pa.struct([("id", _I64), ("name", _STR)])),
        ("validationResult", pa.struct([("result", _STR), ("message", _STR)])),
        (
            "convertedImageInfo",
            pa.struct([("width", _I64), ("height", _I64), ("pageIndex", _I64)]),
        ),
        ("title", TITLE),
        ("fields", pa.list_(FIELD)),
        ("tables", pa.list_(TABLE)),
    ]
)
RESPONSE = pa.struct(
    [
        ("version", _STR),
        ("requestId", _STR),
        ("timestamp", _I64),
        # Error bodies: {code, message, path, timestamp}.
        ("code", _STR),
        ("message", _STR),
        ("images", pa.list_(IMAGE)),
        # Set only when an envelope was mistaken for a bare response (keys out of order).
        ("clova_etl_envelope", _I64),
    ]
)
SOURCE = pa.struct(
    [
        ("uri", _STR),
        ("sha256", _STR),
        ("size_bytes", _I64),
        ("format", _STR),
        ("last_modified", _TS),
    ]
)
OPTIONS = pa.struct(
    [
        ("api", _STR),
        ("version", _STR),
        ("lang", _STR),
        ("template_ids", pa.list_(_I64)),
        ("enable_table_detection", _BOOL),
        ("page_start", _I64),
        ("page_end", _I64),
    ]
)
CALL = pa.struct(
    [
        ("status", _STR),
        ("http_status", _I64),
        ("error_code", _STR),
        ("error_message", _STR),
        ("attempts", _I64),
        ("billable", _BOOL),
        ("billable_pages", _I64),
        ("pages_sent", _I64),
        ("requested_at", _TS),
        ("completed_at", _TS),
        ("duration_ms", _I64),
        ("run_id", _STR),
    ]
)
DOCUMENT_SCHEMA = pa.schema(
    [
        ("clova_etl_envelope", _I64),
        ("request_id", _STR),
        ("source", SOURCE),
        ("options", OPTIONS),
        ("call", CALL),
        ("response", RESPONSE),
    ]
)
"""One line of the batch: an envelope, or ``{"response": ...}`` around a bare response."""

IMAGE_KEYS = frozenset(IMAGE.field(i).name for i in range(IMAGE.num_fields)) | {"combineResult"}
"""Keys a General/Template image may carry that flatten knows (others are ignored)."""

__all__ = ["DOCUMENT_SCHEMA", "IMAGE_KEYS", "RESPONSE"]
