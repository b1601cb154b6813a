"""Hostile and awkward documents, built in memory in well under a second each.

The bombs are valid files whose pixels compress to almost nothing: a 1-bit image of zeros is
deflated about 1000:1, so a 30000 x 30000 PNG (900 million pixels, about 1 GB once decoded by
Pillow) is a 110 KB file.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _zero_rows(row: bytes, height: int) -> bytes:
    comp = zlib.compressobj(9)
    return b"".join(comp.compress(row) for _ in range(height)) + comp.flush()


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit grayscale PNG of ``width`` x ``height`` zero pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = _zero_rows(b"\x00" + bytes((width + 7) // 8), height)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def tiff_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit TIFF of ``width`` x ``height`` zero pixels in one deflated strip."""
    strip = _zero_rows(bytes((width + 7) // 8), height)
    # (tag, type: 3 SHORT / 4 LONG, value); 273 StripOffsets is filled in below.
    entries = [
        (256, 4, width),
        (257, 4, height),
        (258, 3, 1),
        (259, 3, 8),
        (262, 3, 1),
        (273, 4, 0),
        (277, 3, 1),
        (278, 4, height),
        (279, 4, len(strip)),
    ]
    data_offset = 8 + 2 + 12 * len(entries) + 4
    out = b"II*\x00" + struct.pack("<IH", 8, len(entries))
    for tag, kind, value in entries:
        value = data_offset if tag == 273 else value
        if kind == 3:
            out += struct.pack("<HHIHH", tag, kind, 1, value, 0)
        else:
            out += struct.pack("<HHII", tag, kind, 1, value)
    return out + struct.pack("<I", 0) + strip


def _pdf(objects: list[bytes], trailer: bytes = b"") -> bytes:
    body = b"%PDF-1.4\n"
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    body += b"trailer<</Size %d/Root 1 0 R%s>>\n" % (len(objects) + 1, trailer)
    return body + b"startxref\n%d\n%%%%EOF\n" % xref


def big_pdf(size: int) -> bytes:
    """A valid one-page PDF of at least ``size`` bytes (a large unused stream inside)."""
    filler = bytes(size)
    return _pdf(
        [
            b"<</Type/Catalog/Pages 2 0 R>>",
            b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
            b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>",
            b"<</Length %d>>\nstream\n" % len(filler) + filler + b"\nendstream",
        ]
    )


def pdf_page_bomb(points: int = 14_400) -> bytes:
    """A 300-byte PDF whose one page is ``points`` square (14400 pt: 829 Mpx at 144 dpi)."""
    return _pdf(
        [
            b"<</Type/Catalog/Pages 2 0 R>>",
            b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
            b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 %d %d]>>" % (points, points),
        ]
    )


def encrypted_pdf() -> bytes:
    """A PDF with a standard-security /Encrypt dictionary and an unknown user password."""
    return _pdf(
        [
            b"<</Type/Catalog/Pages 2 0 R>>",
            b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
            b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 100 100]>>",
            b"<</Filter/Standard/V 1/R 2/O<" + b"11" * 32 + b">/U<" + b"22" * 32 + b">/P -4>>",
        ],
        b"/Encrypt 4 0 R/ID[<" + b"33" * 16 + b"><" + b"33" * 16 + b">]",
    )


def pdf_pages(pages: int) -> bytes:
    """A PDF of ``pages`` small blank pages, each a different shade."""
    ims = [Image.new("L", (120, 160), (i * 17) % 256) for i in range(pages)]
    buf = io.BytesIO()
    ims[0].save(buf, "PDF", save_all=True, append_images=ims[1:])
    return buf.getvalue()


def truncated_jpeg() -> bytes:
    """The first 4000 bytes of a 900 x 700 JPEG."""
    im = Image.effect_noise((900, 700), 64).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()[:4000]


def docx(text: str = "hello") -> bytes:
    """A minimal Word document (a ZIP container)."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", f"<document>{text}</document>")
    return buf.getvalue()
