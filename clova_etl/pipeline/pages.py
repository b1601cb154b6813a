"""Page chunks of multi-page documents (PDF, TIFF) for requests over the API's page limit."""

from __future__ import annotations

import io

from clova_etl.formats import PDFIUM_LOCK, SourceFormat


def page_ranges(pages: int, per_request: int) -> list[tuple[int, int]]:
    """1-based inclusive page ranges of at most ``per_request`` pages covering ``pages``."""
    return [(s, min(s + per_request - 1, pages)) for s in range(1, pages + 1, per_request)]


def extract_pages(data: bytes, fmt: SourceFormat, page_start: int, page_end: int) -> bytes:
    """A new document holding pages ``page_start..page_end`` (1-based, inclusive) of ``data``."""
    if fmt == "pdf":
        return _pdf_pages(data, page_start, page_end)
    if fmt == "tiff":
        return _tiff_pages(data, page_start, page_end)
    if (page_start, page_end) != (1, 1):
        raise ValueError(f"a {fmt} image has one page, not {page_start}..{page_end}")
    return data


def _pdf_pages(data: bytes, page_start: int, page_end: int) -> bytes:
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        src = pdfium.PdfDocument(data)
        try:
            if page_end > len(src) or page_start < 1:
                raise ValueError(f"pages {page_start}..{page_end} outside 1..{len(src)}")
            out = pdfium.PdfDocument.new()
            try:
                out.import_pages(src, list(range(page_start - 1, page_end)))
                buf = io.BytesIO()
                out.save(buf)
                return buf.getvalue()
            finally:
                out.close()
        finally:
            src.close()


def _tiff_pages(data: bytes, page_start: int, page_end: int) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        n_frames = int(getattr(im, "n_frames", 1))
        if page_end > n_frames or page_start < 1:
            raise ValueError(f"pages {page_start}..{page_end} outside 1..{n_frames}")
        frames = []
        for index in range(page_start - 1, page_end):
            im.seek(index)
            frames.append(im.copy())
        original = str(im.info.get("compression", ""))
    # Keep fax compression for bilevel scans; anything else gets lossless deflate so a chunk is
    # never much larger than its share of the source.
    bilevel = all(f.mode == "1" for f in frames)
    compression = original if bilevel and original in ("group3", "group4") else "tiff_deflate"
    buf = io.BytesIO()
    frames[0].save(
        buf, format="TIFF", save_all=True, append_images=frames[1:], compression=compression
    )
    return buf.getvalue()


__all__ = ["extract_pages", "page_ranges"]
