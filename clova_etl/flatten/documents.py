"""Input documents → one Arrow table per batch, parsed by the C++ JSON reader.

A document is one file: a raw-store envelope or a bare CLOVA body. Compact single-line documents
(what the raw store writes) go straight into a newline-delimited buffer; anything else
(pretty-printed files, odd number spellings, broken JSON) takes the slow path: ``orjson`` +
:func:`~clova_etl.flatten.coerce.coerce`, re-serialised compactly, or a failure reason.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.json as pj

from clova_etl.envelope import ENVELOPE_MARKER
from clova_etl.flatten.arrays import child, explode, valid
from clova_etl.flatten.coerce import MalformedDocument, coerce
from clova_etl.flatten.input_schema import DOCUMENT_SCHEMA, IMAGE_KEYS, RESPONSE
from clova_etl.identity import response_file_request_id
from clova_etl.schema import PARSER_VERSION

MALFORMED_RESPONSE = "MALFORMED_RESPONSE"
MALFORMED_ENVELOPE = "MALFORMED_ENVELOPE"
UNSUPPORTED_RESPONSE = "UNSUPPORTED_RESPONSE"

_BOM = b"\xef\xbb\xbf"
_SPACE = b" \t\r\n"
_ENVELOPE_START = re.compile(rb'\s*\{\s*"' + ENVELOPE_MARKER.encode() + rb'"\s*:')
_COMBINE_KEY = b'"combineResult"'
_META = [f for f in DOCUMENT_SCHEMA if f.name != "response"]
_PARSE_OPTIONS = pj.ParseOptions(
    explicit_schema=DOCUMENT_SCHEMA, unexpected_field_behavior="ignore", newlines_in_values=False
)
_MAX_BLOCK = 2**31 - 1


@dataclass
class Document:
    """One input file on its way into a batch."""

    name: str
    data: bytes
    envelope: bool = False
    pieces: list[bytes | memoryview] = field(default_factory=list)
    """What goes on the document's line of the batch buffer (without the newline)."""
    failure: tuple[str, str] | None = None
    """(error_code, error_message) found before or while parsing."""
    slow: bool = False
    """Parsed by orjson already (and inspected)."""
    strict: bool = False
    """Coerced to the input schema already: the reader cannot reject it."""
    combine: dict[int, str] | None = None
    """``combineResult`` JSON text by image index."""
    _content_id: str | None = None
    content_hash: str = ""
    """sha256 of the parser version and the document's bytes (set by :func:`prepare`)."""

    @property
    def content_id(self) -> str:
        """Request id of a bare response file, from its bytes."""
        if self._content_id is None:
            self._content_id = response_file_request_id(self.data)
        return self._content_id

    def release(self) -> None:
        """Drop the raw bytes once parsed and identified (the batch keeps only Arrow data)."""
        self.data = b""
        self.pieces = []

    def fail(self, code: str, message: str) -> None:
        """Record the first failure found for this document."""
        if self.failure is None:
            self.failure = (code, message)


def _bounds(data: bytes) -> tuple[int, int]:
    start = len(_BOM) if data.startswith(_BOM) else 0
    end = len(data)
    while start < end and data[start] in _SPACE:
        start += 1
    while end > start and data[end - 1] in _SPACE:
        end -= 1
    return start, end


def _kind(value: Any) -> str:
    return "an array" if isinstance(value, list) else f"a {type(value).__name__} value"


def inspect_images(response: Any) -> tuple[dict[int, str] | None, str | None]:
    """``combineResult`` texts by image, and why the images are not General/Template OCR, if so."""
    images = response.get("images") if isinstance(response, dict) else None
    if not isinstance(images, list):
        return None, None
    combine: dict[int, str] = {}
    for i, image in enumerate(images):
        if not isinstance(image, dict):
            continue
        if image.get("combineResult") is not None:
            combine[i] = orjson.dumps(image["combineResult"]).decode()
        if "fields" not in image:
            foreign = [k for k, v in image.items() if k not in IMAGE_KEYS and isinstance(v, dict)]
            foreign += [k for k, v in image.items() if k not in IMAGE_KEYS and isinstance(v, list)]
            if foreign:
                keys = ", ".join(f"`{k}`" for k in foreign)
                return None, (
                    f"images[{i}] has {keys} and no `fields`: not a General or Template OCR "
                    "response (Document OCR?)"
                )
    return combine or None, None


def _fix_titles(response: Any) -> None:
    # V1's reference declares `title` as a string; flatten reads it as the title's text.
    images = response.get("images") if isinstance(response, dict) else None
    for image in images if isinstance(images, list) else ():
        if isinstance(image, dict) and isinstance(image.get("title"), str):
            image["title"] = {"inferText": image["title"]}


def _normalize_response(doc: Document, response: Any, *, strict: bool) -> Any:
    if response is None:
        return None
    if not isinstance(response, dict):
        doc.fail(MALFORMED_RESPONSE, f"a CLOVA response is a JSON object, not {_kind(response)}")
        return None
    _fix_titles(response)
    doc.combine, unsupported = inspect_images(response)
    if unsupported:
        doc.fail(UNSUPPORTED_RESPONSE, unsupported)
    if not strict:
        return response
    try:
        return coerce(response, RESPONSE, "response")
    except MalformedDocument as exc:
        doc.fail(MALFORMED_RESPONSE, f"response does not match the CLOVA OCR schema at {exc}")
        return None


def prepare_slow(doc: Document, *, strict: bool = False) -> None:
    """Parse with orjson and re-serialise compactly (or record why the document is unusable).

    ``strict`` also coerces every value to the input schema, for documents the columnar reader
    rejected as they were.
    """
    doc.slow = True
    doc.strict = strict
    doc.pieces = [b"{}"]
    start, end = _bounds(doc.data)
    try:
        obj = orjson.loads(memoryview(doc.data)[start:end])
    except orjson.JSONDecodeError as exc:
        what = "empty file" if start == end else f"not valid JSON: {exc}"
        doc.fail(MALFORMED_RESPONSE, what)
        return
    if isinstance(obj, dict) and ENVELOPE_MARKER in obj:
        doc.envelope = True
        line: dict[str, Any] = {}
        for section in _META:
            if not strict:
                line[section.name] = obj.get(section.name)
                continue
            # Section by section, so that one bad value does not hide the rest of the metadata.
            try:
                line[section.name] = coerce(obj.get(section.name), section.type, section.name)
            except MalformedDocument as exc:
                doc.fail(MALFORMED_ENVELOPE, f"raw-store envelope is malformed at {exc}")
        line["response"] = _normalize_response(doc, obj.get("response"), strict=strict)
    else:
        doc.envelope = False
        line = {"response": _normalize_response(doc, obj, strict=strict)}
    doc.pieces = [orjson.dumps(line)]


def content_hash(data: bytes, parser_version: str = PARSER_VERSION) -> str:
    """What a load compares to skip unchanged requests: the answer's bytes and the parser."""
    digest = hashlib.sha256(f"clova-etl flatten {parser_version}\n".encode())
    digest.update(data)
    return digest.hexdigest()


def prepare(name: str, data: bytes) -> Document:
    """A document ready for the batch buffer: compact lines as they are, others re-serialised."""
    doc = Document(name=name, data=data, content_hash=content_hash(data))
    start, end = _bounds(data)
    if start == end or data[start] != ord("{") or data.find(b"\n", start, end) != -1:
        prepare_slow(doc)
        return doc
    view = memoryview(data)[start:end]
    doc.envelope = _ENVELOPE_START.match(data, start) is not None
    doc.pieces = [view] if doc.envelope else [b'{"response":', view, b"}"]
    if data.find(_COMBINE_KEY, start, end) != -1:
        # Rare: combineResult is kept as JSON text, which the columnar reader cannot give back.
        prepare_slow(doc)
    return doc


def column(table: pa.Table, name: str) -> pa.Array:
    """A column of a parsed batch as one array (the reader gives one chunk per block)."""
    chunks = table.column(name)
    if chunks.num_chunks == 1:
        return chunks.chunk(0)
    return chunks.combine_chunks() if chunks.num_chunks else pa.nulls(0, chunks.type)


def _read(docs: list[Document], use_threads: bool) -> pa.Table:
    pieces: list[bytes | memoryview] = []
    for doc in docs:
        pieces.extend(doc.pieces)
        pieces.append(b"\n")
    buffer = b"".join(pieces)
    block = min(_MAX_BLOCK, max(1 << 20, len(buffer) + 1))
    return pj.read_json(
        pa.BufferReader(buffer),
        read_options=pj.ReadOptions(use_threads=use_threads, block_size=block),
        parse_options=_PARSE_OPTIONS,
    )


def _repair(docs: list[Document]) -> None:
    # Find the documents the reader rejects, one by one, and coerce only those.
    for doc in docs:
        if doc.strict:
            continue
        try:
            _read([doc], use_threads=False)
        except pa.ArrowException:
            prepare_slow(doc, strict=True)


def parse_batch(docs: list[Document], *, use_threads: bool = False) -> pa.Table:
    """Parse a batch: one row per document, typed by ``DOCUMENT_SCHEMA``."""
    try:
        table = _read(docs, use_threads)
    except pa.ArrowException:
        _repair(docs)
        try:
            table = _read(docs, use_threads)
        except pa.ArrowException:
            # Each line is fine alone but not together: coerce them all.
            for doc in docs:
                if not doc.strict:
                    prepare_slow(doc, strict=True)
            table = _read(docs, use_threads)
    # An envelope whose marker is not its first key was read as a bare response: redo it.
    misread = valid(child(column(table, "response"), "clova_etl_envelope"))
    redo = [d for d, bad in zip(docs, misread, strict=True) if bad and not d.envelope]
    for doc in redo:
        prepare_slow(doc)
    if redo:
        table = _read(docs, use_threads)
    _check_unsupported(docs, table)
    return table


def _check_unsupported(docs: list[Document], table: pa.Table) -> None:
    # Images without `fields` are rare (Document OCR bodies, failed inferences): look closer.
    images = explode(child(column(table, "response"), "images"))
    no_fields = ~valid(child(images.values, "fields"))
    for doc_index in sorted(set(images.parent[no_fields].tolist())):
        doc = docs[doc_index]
        if doc.slow or doc.failure:
            continue
        obj = orjson.loads(doc.data[slice(*_bounds(doc.data))])
        response = obj.get("response") if doc.envelope else obj
        _, unsupported = inspect_images(response)
        if unsupported:
            doc.fail(UNSUPPORTED_RESPONSE, unsupported)


__all__ = [
    "MALFORMED_ENVELOPE",
    "MALFORMED_RESPONSE",
    "UNSUPPORTED_RESPONSE",
    "Document",
    "column",
    "content_hash",
    "inspect_images",
    "parse_batch",
    "prepare",
    "prepare_slow",
]
