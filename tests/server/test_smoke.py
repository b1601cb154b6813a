"""The session server answers a minimal General OCR call."""

from __future__ import annotations

import base64
import io

import httpx
from PIL import Image

from tests.fixtures.ocr_server import RunningServer


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 32), "white").save(out, "PNG")
    return out.getvalue()


def test_session_server_answers(ocr_server: RunningServer) -> None:
    body = {
        "version": "V2",
        "requestId": "smoke-1",
        "timestamp": 0,
        "images": [{"format": "png", "name": "blank", "data": base64.b64encode(_png()).decode()}],
    }
    r = httpx.post(ocr_server.invoke_url(), json=body, headers={"X-OCR-SECRET": ocr_server.secret})
    assert r.status_code == 200
    image = r.json()["images"][0]
    assert image["inferResult"] == "SUCCESS"
    assert image["fields"] == []
    assert ocr_server.stats()["calls_by_request_id"]["smoke-1"] >= 1
