"""Documents and configurations for the pipeline tests."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from clova_etl.config import PipelineConfig, SourceConfig, StoreConfig, WarehouseConfig


def jpeg(width: int = 320, height: int = 200, seed: int = 0) -> bytes:
    """A small JPEG whose content depends on ``seed``."""
    im = Image.new("RGB", (width, height), (255, 255, 255))
    ImageDraw.Draw(im).rectangle((10 + seed % 50, 10, 60 + seed % 50, 60), fill=(seed % 256, 0, 0))
    buf = io.BytesIO()
    im.save(buf, "JPEG")
    return buf.getvalue()


def png(seed: int = 0) -> bytes:
    """A small PNG whose content depends on ``seed``."""
    im = Image.new("RGB", (240, 160), (255, 255, 255))
    ImageDraw.Draw(im).ellipse((20, 20, 80 + seed % 60, 80), fill=(0, seed % 256, 0))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def pdf(pages: int, seed: int = 0) -> bytes:
    """A PDF of ``pages`` pages, each different."""
    ims = [Image.new("RGB", (200, 280), ((seed + i * 20) % 256, 255, 255)) for i in range(pages)]
    buf = io.BytesIO()
    ims[0].save(buf, "PDF", save_all=True, append_images=ims[1:])
    return buf.getvalue()


def tiff(pages: int, seed: int = 0) -> bytes:
    """A multi-frame TIFF of ``pages`` frames."""
    ims = [Image.new("L", (160, 120), (seed + i * 30) % 256) for i in range(pages)]
    buf = io.BytesIO()
    ims[0].save(buf, "TIFF", save_all=True, append_images=ims[1:], compression="tiff_deflate")
    return buf.getvalue()


def encrypted_pdf() -> bytes:
    """A PDF with a standard-security /Encrypt dictionary and an unknown user password."""
    objs = [
        b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n",
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n",
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 100 100]>>endobj\n",
        b"4 0 obj<</Filter/Standard/V 1/R 2/O<"
        + b"11" * 32
        + b">/U<"
        + b"22" * 32
        + b">/P -4>>endobj\n",
    ]
    body = b"%PDF-1.4\n"
    offsets = []
    for obj in objs:
        offsets.append(len(body))
        body += obj
    xref = len(body)
    body += b"xref\n0 5\n0000000000 65535 f \n"
    body += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    body += b"trailer<</Size 5/Root 1 0 R/Encrypt 4 0 R/ID[<" + b"33" * 16 + b"><"
    body += b"33" * 16 + b">]>>\nstartxref\n%d\n%%%%EOF\n" % xref
    assert re.search(rb"/Encrypt", body)
    return body


def docx(text: str = "hello") -> bytes:
    """A minimal .docx-like ZIP container."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        # A fixed date: the same bytes in every process (pytest-xdist workers collect the
        # tests that take these bytes as a parameter separately and must agree on their ids).
        for name, body in (
            ("[Content_Types].xml", "<Types/>"),
            ("word/document.xml", f"<document>{text}</document>"),
        ):
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), body)
    return buf.getvalue()


@pytest.fixture
def local_config(tmp_path: Path) -> PipelineConfig:
    """Local bucket, store and DuckDB warehouse under tmp_path, default routes."""
    (tmp_path / "bucket").mkdir()
    return PipelineConfig(
        source=SourceConfig(uri=str(tmp_path / "bucket")),
        store=StoreConfig(uri=str(tmp_path / "store")),
        warehouse=WarehouseConfig(uri=f"duckdb:///{tmp_path / 'warehouse.duckdb'}"),
    )


def put(config: PipelineConfig, key: str, data: bytes) -> Path:
    """Drop an object into a local bucket."""
    path = Path(config.source.uri) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
