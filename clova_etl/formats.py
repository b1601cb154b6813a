"""What a file is, judged by its bytes (never by its name), and how many pages it has."""

from __future__ import annotations

import io
import threading
from typing import Literal

SourceFormat = Literal["jpg", "png", "pdf", "tiff"]

SUPPORTED_FORMATS: tuple[SourceFormat, ...] = ("jpg", "png", "pdf", "tiff")
MULTI_PAGE_FORMATS: frozenset[str] = frozenset({"pdf", "tiff"})

# PDFium is not thread-safe (not even across different documents), and pypdfium2 releases the
# GIL during its calls: every use of pypdfium2 in this process holds this lock.
PDFIUM_LOCK = threading.RLock()

_MAGIC: tuple[tuple[bytes, SourceFormat], ...] = (
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"%PDF-", "pdf"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)

# Spellings the API and users use for the same format.
FORMAT_ALIASES: dict[str, SourceFormat] = {
    "jpg": "jpg",
    "jpeg": "jpg",
    "png": "png",
    "pdf": "pdf",
    "tif": "tiff",
    "tiff": "tiff",
}


def sniff_format(head: bytes) -> SourceFormat | None:
    """The format of a file from its first bytes, or None when it is none the API takes."""
    # PDF allows junk before the header within the first 1024 bytes.
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    if b"%PDF-" in head[:1024]:
        return "pdf"
    return None


def normalize_format(name: str) -> SourceFormat | None:
    """Map an API/user spelling ("JPEG", "tif") to the canonical format name."""
    return FORMAT_ALIASES.get(name.strip().lower())


def page_count(data: bytes, fmt: SourceFormat) -> int:
    """Pages in a document: PDF pages, TIFF frames, 1 for single images.

    Raises ValueError when the document cannot be opened (corrupt or encrypted).
    """
    if fmt == "pdf":
        import pypdfium2 as pdfium

        with PDFIUM_LOCK:
            try:
                pdf = pdfium.PdfDocument(data)
            except pdfium.PdfiumError as exc:
                raise ValueError(f"cannot open PDF: {exc}") from exc
            try:
                return len(pdf)
            finally:
                pdf.close()
    if fmt == "tiff":
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as im:
                return int(getattr(im, "n_frames", 1))
        except (
            OSError,
            ValueError,
            # Huge dimensions: Pillow's decompression-bomb guard (the warning when it is an error).
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ) as exc:
            raise ValueError(f"cannot open TIFF: {exc}") from exc
    return 1
