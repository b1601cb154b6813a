"""From received bytes to rendered pages: format checks, page limits, PDF/TIFF rendering.

Decisions (documented in the server README section):

- the declared ``format`` must name a supported format, else the request fails with 0011;
- the bytes are decoded by their content, whatever supported format is declared: the
  reference's own Python examples send ``"format": "jpg"`` for every file, PNG and TIFF
  included, and get SUCCESS;
- bytes that are not an image the API takes (JPEG, PNG, PDF, TIFF), or that cannot be decoded,
  give an image-level ``inferResult: "ERROR"`` (HTTP 200, not charged) — the real service
  answers decoding problems per image;
- more pages than the API allows (General 10, Template 5) fails the request with 0011.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from PIL import Image

from clova_etl.formats import PDFIUM_LOCK, SourceFormat, page_count, sniff_format
from clova_etl.server.engine import PageInput, SourceDocument


class UnreadableDocument(Exception):
    """The bytes cannot be read as the declared format (answered as an image-level ERROR)."""


def open_document(data: bytes, fmt: SourceFormat) -> SourceDocument:
    """Sniff the bytes' own format (the declared ``fmt`` is not trusted) and count pages."""
    actual = sniff_format(data[:1024])
    if actual is None:
        raise UnreadableDocument(
            f"image data is not JPEG, PNG, PDF or TIFF (format says {fmt.upper()})"
        )
    fmt = actual
    try:
        pages = page_count(data, fmt)
    except ValueError as exc:
        raise UnreadableDocument(str(exc)) from exc
    if pages < 1:
        raise UnreadableDocument("document has no pages")
    return SourceDocument(data=data, format=fmt, page_count=pages)


def iter_pages(document: SourceDocument, *, pdf_dpi: float) -> Iterator[PageInput]:
    """Render the pages one at a time (a page image is dropped before the next is made)."""
    if document.format == "pdf":
        yield from _pdf_pages(document, pdf_dpi)
        return
    try:
        with Image.open(io.BytesIO(document.data)) as im:
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; decoding (and converting
            # to RGB) such an image would take a GB, so it is refused like a bigger one.
            limit = Image.MAX_IMAGE_PIXELS
            if limit and im.width * im.height > limit:
                raise UnreadableDocument(
                    f"cannot decode image: {im.width}x{im.height} pixels is over the "
                    f"{limit}-pixel decompression-bomb limit"
                )
            for index in range(document.page_count):
                im.seek(index)
                page = im.convert("RGB") if im.mode not in ("RGB", "L") else im.copy()
                yield PageInput(document=document, index=index, image=page)
    except (
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,  # raised when warnings are errors
    ) as exc:
        # Pillow's decompression-bomb guard stays on: a huge image is an unreadable one here.
        raise UnreadableDocument(f"cannot decode image: {exc}") from exc


def _pdf_pages(document: SourceDocument, dpi: float) -> Iterator[PageInput]:
    import pypdfium2 as pdfium

    # One page at a time under the process-wide PDFium lock: concurrent calls render in turn,
    # and the lock is not held while the engine works on a page.
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(document.data)
        except pdfium.PdfiumError as exc:
            raise UnreadableDocument(f"cannot open PDF: {exc}") from exc
    try:
        for index in range(document.page_count):
            with PDFIUM_LOCK:
                image = _render(pdf, index, dpi)
            yield PageInput(document=document, index=index, image=image)
    finally:
        with PDFIUM_LOCK:
            pdf.close()


def _render(pdf: Any, index: int, dpi: float) -> Image.Image:
    import pypdfium2 as pdfium

    try:
        page = pdf[index]
        try:
            width, height = page.get_size()
            pixels = (width * dpi / 72.0) * (height * dpi / 72.0)
            limit = Image.MAX_IMAGE_PIXELS
            if limit and pixels > limit:
                # A page of absurd size (a 300-byte PDF can ask for 8 GB): not rendered.
                raise UnreadableDocument(
                    f"cannot render PDF page {index}: {width:.0f}x{height:.0f} pt is "
                    f"{pixels / 1e6:.0f} Mpx at {dpi:g} dpi, over the {limit}-pixel limit"
                )
            bitmap = page.render(scale=dpi / 72.0)
            try:
                # A copy: the bitmap's buffer is freed (a PDFium call) before the lock is left.
                image: Image.Image = bitmap.to_pil().convert("RGB")
                return image
            finally:
                bitmap.close()
        finally:
            page.close()
    except pdfium.PdfiumError as exc:
        raise UnreadableDocument(f"cannot render PDF page {index}: {exc}") from exc
