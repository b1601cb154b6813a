"""Flatten raw CLOVA OCR responses into the seven tables of :data:`clova_etl.schema.TABLES`.

Inputs are documents: raw-store envelopes (``{"clova_etl_envelope": 1, "request_id", "source",
"options", "call", "response"}``) or bare CLOVA bodies (a General/Template response, V1 or V2, or
an error body). Every document gives exactly one ``ocr_requests`` row; succeeded ones also give
their images, fields, subfields, tables, cells and cell words. Error bodies, Document OCR bodies,
broken JSON and malformed shapes become ``status="failed"`` rows with ``error_code`` (the CLOVA
body code, or ``MALFORMED_RESPONSE`` / ``MALFORMED_ENVELOPE`` / ``UNSUPPORTED_RESPONSE``) and a
message; they never raise.

API::

    flatten_documents(items, *, batch_bytes=DEFAULT_BATCH_BYTES) -> dict[str, pa.Table]
        items: (name, bytes) pairs and/or paths (files; directories give their *.json files).
        All seven tables in memory, with the exact schemas of clova_etl.schema.TABLES.

    flatten_to_parquet(inputs, out_dir, *, batch_bytes=..., workers=None, processes=True)
        -> FlattenSummary
        Streams inputs in batches of about batch_bytes and writes
        out_dir/<table>/part-<NNNNN>.parquet (one file per table per batch, one row group each),
        removing earlier part files first. Memory is bounded by the batch size, not the input.
        Same inputs in the same order (and batch_bytes) -> byte-identical files.
        FlattenSummary: documents, input_bytes, rows per table, files, failed documents.

    iter_flattened(inputs, *, batch_bytes=..., workers=None) -> Iterator[dict[str, pa.Table]]
        The same tables batch by batch, for callers that load Arrow directly.

Identity: an envelope's rows carry its ``request_id``; a bare file's rows carry
:func:`clova_etl.identity.response_file_request_id` of its bytes (the body's ``requestId`` only
echoes the caller) and its ``source_uri``/``raw_uri`` name the file. A bare file has no request
options: ``version`` is the body's, ``api`` is ``template`` when an image has a matched template
or a title (else ``general``), the other option and call columns are null.

Derived columns: boxes are min/max over all vertices (V1 ``bounding`` gives the four corners);
``line_number`` counts ``lineBreak`` per image; ``ocr_fields.table_index`` is the first table
whose axis-aligned box holds the field's centre; cell text joins words by " " and lines by "\n";
``row_count``/``column_count`` are max(index + span) over the cells (span 1 when absent).

How it is fast: documents of a batch are joined into newline-delimited JSON and parsed once by
Arrow's C++ JSON reader against a fixed nested schema (unknown keys ignored); every table is then
derived with vectorised list unnesting (ordinals from list offsets), so no Python code runs per
field. Batches run in one worker process per core (forked: each reads, flattens and writes
its own batches; the Python parts hold the GIL, so threads would share one core for them).
Other documents take a slower path and then rejoin the same one: pretty-printed files and
``combineResult`` are re-serialised by ``orjson``; documents the reader rejects (``1.0`` where
an integer is due, a numeric error ``code``...) are also coerced to the input schema, or
recorded as malformed with the JSON path of the offending value.
"""

from __future__ import annotations

from clova_etl.flatten.core import (
    DEFAULT_BATCH_BYTES,
    flatten_batch,
    flatten_documents,
    iter_flattened,
)
from clova_etl.flatten.documents import (
    MALFORMED_ENVELOPE,
    MALFORMED_RESPONSE,
    UNSUPPORTED_RESPONSE,
)
from clova_etl.flatten.parquet import (
    FailedDocument,
    FlattenSummary,
    flatten_to_parquet,
)

__all__ = [
    "DEFAULT_BATCH_BYTES",
    "MALFORMED_ENVELOPE",
    "MALFORMED_RESPONSE",
    "UNSUPPORTED_RESPONSE",
    "FailedDocument",
    "FlattenSummary",
    "flatten_batch",
    "flatten_documents",
    "flatten_to_parquet",
    "iter_flattened",
]
