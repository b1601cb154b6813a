"""Ground truth carried inside a sample document, and the encoders that put it there.

A generated sample records what was drawn (every word and its box, tables, template fields) in
the file itself, so that the local OCR server's synthetic engine can answer exactly that truth
for the bytes it receives, with no side channel:

- PNG: an ``iTXt`` chunk with keyword :data:`TRUTH_KEY`;
- JPEG: a ``COM`` (comment) segment;
- TIFF: the ``ImageDescription`` tag (the whole document, on every frame);
- PDF: the document information ``/Subject``.

The payload is ``clova-etl-truth/1:`` + base64(zlib(JSON of :class:`DocumentTruth`)). Every
coordinate is in the pixel space of the page as drawn (``TruthPage.width`` x ``height``); a
reader that renders the page at another size scales them.
"""

from __future__ import annotations

import base64
import binascii
import io
import time
import zlib
from collections.abc import Sequence
from typing import Literal

from PIL import Image, PngImagePlugin
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clova_etl.formats import PDFIUM_LOCK, SourceFormat

TRUTH_KEY = "clova-etl-truth"
_PREFIX = "clova-etl-truth/1:"
# Pillow stamps PDFs with the current time unless told otherwise: a fixed date keeps the bytes
# (and so the request ids derived from them) identical between runs.
_FIXED_PDF_DATE = time.struct_time((2024, 1, 1, 0, 0, 0, 0, 1, 0))
# A JPEG COM segment holds at most 65533 bytes.
_JPEG_COMMENT_MAX = 65533

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]
FieldType = Literal["NORMAL", "MULTI_BOX", "CHECKBOX"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TruthWord(_Model):
    """One drawn word: its text, its quad (clockwise from top-left) and a confidence."""

    text: str
    quad: Quad
    confidence: float = Field(ge=0.0, le=1.0)
    line_break: bool = False


class TruthCellLine(_Model):
    """One line of text inside a table cell."""

    words: list[TruthWord]
    quad: Quad
    confidence: float


class TruthCell(_Model):
    """One table cell: grid position, spans, rectangle and its lines (possibly none)."""

    row: int
    col: int
    row_span: int = 1
    col_span: int = 1
    quad: Quad
    confidence: float = 1.0
    lines: list[TruthCellLine] = []


class TruthTable(_Model):
    """One ruled table."""

    quad: Quad
    confidence: float
    cells: list[TruthCell]


class TruthSubField(_Model):
    """One part of a template field (a word or a box of a MULTI_BOX field)."""

    text: str
    quad: Quad
    confidence: float
    line_break: bool = False


class TruthField(_Model):
    """One template field (or the title) with what the template OCR should read in it."""

    name: str
    value_type: str = "ALL"
    type: FieldType = "NORMAL"
    text: str
    quad: Quad
    confidence: float
    sub_fields: list[TruthSubField] = []
    checked: bool | None = None


class TemplateRef(_Model):
    """The template a form was drawn from."""

    id: int
    name: str


class TruthPage(_Model):
    """What is on one page, in the page's drawn pixel space."""

    width: int
    height: int
    words: list[TruthWord] = []
    tables: list[TruthTable] = []
    title: TruthField | None = None
    fields: list[TruthField] = []


class DocumentTruth(_Model):
    """The whole truth of a sample document."""

    doc_id: str
    lang: str = "ko"
    template: TemplateRef | None = None
    pages: list[TruthPage]


def encode_truth(truth: DocumentTruth) -> str:
    """The ASCII payload stored in a file's metadata."""
    raw = truth.model_dump_json(exclude_defaults=True).encode("utf-8")
    return _PREFIX + base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def decode_truth(payload: str | bytes) -> DocumentTruth | None:
    """The truth in a metadata payload, or None when the payload is not ours or is damaged."""
    text = payload.decode("latin-1") if isinstance(payload, bytes) else payload
    text = text.strip("\x00").strip()
    if not text.startswith(_PREFIX):
        return None
    try:
        raw = zlib.decompress(base64.b64decode(text[len(_PREFIX) :], validate=True))
        return DocumentTruth.model_validate_json(raw)
    except (binascii.Error, zlib.error, ValidationError, ValueError):
        return None


def embed_truth(
    pages: Sequence[Image.Image],
    truth: DocumentTruth,
    fmt: SourceFormat,
    *,
    resolution: float = 144.0,
    jpeg_quality: int = 90,
) -> bytes:
    """Encode rendered pages as ``fmt`` with ``truth`` embedded; deterministic bytes.

    ``resolution`` (dots per inch) sets a PDF's page size: a page of W pixels is W*72/resolution
    points wide, so a reader rendering at that DPI gets the drawn pixel size back.
    """
    if not pages:
        raise ValueError("at least one page is required")
    if len(pages) != len(truth.pages):
        raise ValueError(f"{len(pages)} pages but the truth describes {len(truth.pages)}")
    if fmt in ("png", "jpg") and len(pages) != 1:
        raise ValueError(f"{fmt} holds exactly one page")
    payload = encode_truth(truth)
    out = io.BytesIO()
    first = pages[0]
    if fmt == "png":
        info = PngImagePlugin.PngInfo()
        info.add_itxt(TRUTH_KEY, payload)
        first.save(out, "PNG", pnginfo=info, optimize=False)
    elif fmt == "jpg":
        if len(payload) > _JPEG_COMMENT_MAX:
            raise ValueError(f"truth too large for a JPEG comment ({len(payload)} bytes)")
        first.convert("RGB").save(
            out, "JPEG", quality=jpeg_quality, comment=payload.encode("ascii")
        )
    elif fmt == "tiff":
        first.save(
            out,
            "TIFF",
            save_all=True,
            append_images=list(pages[1:]),
            compression="tiff_deflate",
            description=payload,
        )
    elif fmt == "pdf":
        rgb = [p.convert("RGB") for p in pages]
        rgb[0].save(
            out,
            "PDF",
            save_all=True,
            append_images=rgb[1:],
            resolution=resolution,
            title=truth.doc_id,
            subject=payload,
            producer="clova-etl samples",
            creationDate=_FIXED_PDF_DATE,
            modDate=_FIXED_PDF_DATE,
        )
    else:  # pragma: no cover - SourceFormat is closed
        raise ValueError(f"unsupported format {fmt!r}")
    return out.getvalue()


def extract_truth(data: bytes, fmt: SourceFormat) -> DocumentTruth | None:
    """The truth embedded in a document's bytes, or None (no truth, not ours, undecodable)."""
    try:
        if fmt == "pdf":
            return _pdf_truth(data)
        with Image.open(io.BytesIO(data)) as im:
            if fmt == "png":
                value = im.info.get(TRUTH_KEY)
                if value is None and hasattr(im, "text"):
                    value = im.text.get(TRUTH_KEY)
            elif fmt == "jpg":
                value = im.info.get("comment")
            else:
                value = im.tag_v2.get(270) if hasattr(im, "tag_v2") else None
    except (OSError, ValueError, SyntaxError):
        return None
    if isinstance(value, (str, bytes)):
        return decode_truth(value)
    return None


def _pdf_truth(data: bytes) -> DocumentTruth | None:
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:
            return None
        try:
            subject = pdf.get_metadata_dict().get("Subject", "")
        finally:
            pdf.close()
    return decode_truth(subject) if subject else None
