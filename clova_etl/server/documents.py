"""From received bytes to rendered pages: format checks, page limits, PDF/TIFF rendering.

Decisions (documented in the server README section):

- the declared ``format`` must name a supported format, else the request fails with 0011;
- the bytes are decoded by their content, whatever supported format is declared: the
  reference's own Python examples send ``"format": "jpg"`` for every file, PNG and TIFF
  included, and get SUCCESS;
- bytes that are not an image the API takes (JPEG, PNG, PDF, TIFF), or that cannot be decoded,
  give an image-level ``inferResult: "ERROR"`` (HTTP 200, not charged) — the real service
  answers decoding problems per image;
- more pages than the API allows (General 10, Template 5) fails the request with 0011;
- for an engine that reads no pixels (the synthetic one), a PNG is not decoded: its size comes
  from the header and its integrity from every chunk's CRC and the closing IEND
  (``Image.verify``), about a third of the CPU of a decode. Such an engine answers SUCCESS for
  a PNG whose chunks are intact but whose compressed pixels are not; JPEG, TIFF and PDF pages
  are decoded whatever the engine.
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


def iter_pages(
    document: SourceDocument, *, pdf_dpi: float, decode: bool = True
) -> Iterator[PageInput]:
    """Render the pages one at a time (a page image is dropped before the next is made).

    ``decode=False``: a PNG is measured and verified instead of decoded (``PageInput.image`` is
    None); other formats are rendered as always.
    """
    if document.format == "pdf":
        yield from _pdf_pages(document, pdf_dpi)
        return
    if document.format == "png" and not decode:
        yield from _verified_png_pages(document)
        return
    try:
        with Image.open(io.BytesIO(document.data)) as im:
            _check_pixel_limit(im.width, im.height)
            for index in range(document.page_count):
                im.seek(index)
                page = im.convert("RGB") if im.mode not in ("RGB", "L") else im.copy()
                yield PageInput(document=document, index=index, size=page.size, image=page)
    except _PILLOW_ERRORS as exc:
        # Pillow's decompression-bomb guard stays on: a huge image is an unreadable one here.
        raise UnreadableDocument(f"cannot decode image: {exc}") from exc


_PILLOW_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,  # raised when warnings are errors
)


def _verified_png_pages(document: SourceDocument) -> Iterator[PageInput]:
    """The one page of a PNG, measured from its header and verified chunk by chunk."""
    try:
        with Image.open(io.BytesIO(document.data)) as im:
            size = im.size
            _check_pixel_limit(*size)
            im.verify()  # every chunk's CRC up to IEND; no inflate
    except _PILLOW_ERRORS as exc:
        raise UnreadableDocument(f"cannot decode image: {exc}") from exc
    yield PageInput(document=document, index=0, size=size)


def _check_pixel_limit(width: int, height: int) -> None:
    # Pillow only warns between MAX_IMAGE_PIXELS and twice that; decoding (and converting to
    # RGB) such an image would take a GB, so it is refused like a bigger one.
    limit = Image.MAX_IMAGE_PIXELS
    if limit and width * height > limit:
        raise UnreadableDocument(
            f"cannot decode image: {width}x{height} pixels is over the "
            f"{limit}-pixel decompression-bomb limit"
        )


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
            yield PageInput(document=document, index=index, size=image.size, image=image)
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
