"""Documents and helpers of the client tests (images made here; no server needed for them)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image


def image_bytes(fmt: str, *, size: tuple[int, int] = (64, 48), pages: int = 1) -> bytes:
    """A small blank document: ``fmt`` is a Pillow format (PNG, JPEG, TIFF, PDF)."""
    frames = [Image.new("RGB", size, (255, 255, 255 - i)) for i in range(pages)]
    out = io.BytesIO()
    if pages > 1:
        frames[0].save(out, format=fmt, save_all=True, append_images=frames[1:])
    else:
        frames[0].save(out, format=fmt)
    return out.getvalue()


@pytest.fixture(scope="session")
def docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Blank documents of every format the API takes, and a few that break its limits."""
    out = tmp_path_factory.mktemp("client-docs")
    made = {
        "png": image_bytes("PNG"),
        "jpg": image_bytes("JPEG"),
        "tiff": image_bytes("TIFF", pages=3),
        "pdf": image_bytes("PDF", pages=2),
        "pdf5": image_bytes("PDF", pages=5),
        "pdf6": image_bytes("PDF", pages=6),
        "pdf11": image_bytes("PDF", pages=11),
        "tiff6": image_bytes("TIFF", pages=6),
    }
    paths: dict[str, Path] = {}
    for name, data in made.items():
        ext = {"pdf5": "pdf", "pdf6": "pdf", "pdf11": "pdf", "tiff6": "tiff"}.get(name, name)
        path = out / f"{name}.{ext}"
        path.write_bytes(data)
        paths[name] = path
    # A PNG whose name lies: the format comes from the bytes.
    liar = out / "really-a-png.pdf"
    liar.write_bytes(made["png"])
    paths["liar"] = liar
    empty = out / "empty.png"
    empty.write_bytes(b"")
    paths["empty"] = empty
    text = out / "notes.png"
    text.write_bytes(b"just some text, not an image\n")
    paths["text"] = text
    return paths
