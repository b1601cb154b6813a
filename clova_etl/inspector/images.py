"""Page images for the inspector: the source object read from the bucket, one image per page.

JPEG and PNG sources are written as they are; PDF pages are rendered (pypdfium2, at the size
the service reported in ``convertedImageInfo`` when known) and TIFF frames converted, both to
PNG. The overlay is drawn in the page's own coordinates, so the image's pixel size never has to
match them exactly.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from clova_etl.formats import PDFIUM_LOCK, sniff_format

if TYPE_CHECKING:
    from clova_etl.pipeline.storage import Storage

__all__ = ["ImageUnavailableError", "PageImage", "read_source", "render_page"]

# Fallback resolution of a PDF page when the response did not say its converted size.
DEFAULT_PDF_DPI = 144.0
# A rendered page larger than this (pixels) is scaled down: the overlay scales with it.
MAX_PIXELS = 12_000_000


class ImageUnavailableError(Exception):
    """The page image cannot be shown (the object is gone, unreadable, or not reachable)."""


@dataclass(frozen=True)
class PageImage:
    """One page image: its bytes, file extension and pixel size."""

    data: bytes
    ext: str
    width: int
    height: int


def read_source(source_uri: str, storage: Storage | None) -> bytes:
    """The bytes of ``source_uri``: from the configured bucket, or a local ``file://`` path."""
    from clova_etl.pipeline.errors import PipelineError

    if storage is not None:
        try:
            key = storage.key_for(source_uri)
        except PipelineError:
            key = None
        if key is not None:
            try:
                return storage.read(key)
            except (PipelineError, OSError) as exc:
                raise ImageUnavailableError(f"cannot read {source_uri}: {exc}") from exc
    parts = urlsplit(source_uri)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        path = Path(unquote(parts.path))
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ImageUnavailableError(f"cannot read {source_uri}: {exc.strerror}") from exc
    where = f" (the source is {storage.uri})" if storage is not None else ""
    raise ImageUnavailableError(
        f"{source_uri} is not in the configured source bucket{where}: give --source or --config"
    )


def changed_since_read(data: bytes, sha256: str | None) -> bool:
    """Whether the bytes differ from the version that was read (the boxes may not fit)."""
    return bool(sha256) and hashlib.sha256(data).hexdigest() != sha256


def render_page(data: bytes, page: int, *, width: float | None = None) -> PageImage:
    """Page ``page`` (1-based) of the document in ``data`` as an image the browser shows."""
    from PIL import Image

    fmt = sniff_format(data[:1024])
    if fmt is None:
        raise ImageUnavailableError("the object is not a JPEG, PNG, PDF or TIFF image")
    try:
        if fmt in ("jpg", "png"):
            if page != 1:
                raise ImageUnavailableError(f"a {fmt} image has no page {page}")
            with Image.open(io.BytesIO(data)) as im:
                return PageImage(data, fmt, im.width, im.height)
        if fmt == "pdf":
            return _pdf_page(data, page, width)
        with Image.open(io.BytesIO(data)) as im:
            frames = int(getattr(im, "n_frames", 1))
            if page > frames:
                raise ImageUnavailableError(f"the TIFF has {frames} page(s), not {page}")
            im.seek(page - 1)
            frame = im.convert("L") if im.mode in ("1", "L") else im.convert("RGB")
            return _png(frame)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise ImageUnavailableError(f"cannot decode page {page}: {exc}") from exc


def _png(image: object) -> PageImage:
    from PIL import Image

    assert isinstance(image, Image.Image)
    if image.width * image.height > MAX_PIXELS:
        scale = (MAX_PIXELS / (image.width * image.height)) ** 0.5
        image = image.resize((int(image.width * scale), int(image.height * scale)))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return PageImage(buf.getvalue(), "png", image.width, image.height)


def _pdf_page(data: bytes, page: int, width: float | None) -> PageImage:
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise ImageUnavailableError(f"cannot open the PDF: {exc}") from exc
        try:
            if not 1 <= page <= len(pdf):
                raise ImageUnavailableError(f"the PDF has {len(pdf)} page(s), not {page}")
            pdf_page = pdf[page - 1]
            try:
                points_w, points_h = pdf_page.get_size()
                scale = width / points_w if width else DEFAULT_PDF_DPI / 72.0
                pixels = points_w * points_h * scale * scale
                if pixels > MAX_PIXELS:
                    scale *= (MAX_PIXELS / pixels) ** 0.5
                bitmap = pdf_page.render(scale=scale)
                try:
                    image = bitmap.to_pil().convert("RGB")
                finally:
                    bitmap.close()
            finally:
                pdf_page.close()
        finally:
            pdf.close()
    return _png(image)
