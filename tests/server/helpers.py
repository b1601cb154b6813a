"""Raw-HTTP helpers for the server tests (independent of the client package on purpose)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from tests.fixtures.ocr_server import RunningServer

_client: httpx.Client | None = None


def client() -> httpx.Client:
    """A shared keep-alive client (a new httpx client per call costs ~30 ms of TLS set-up).

    Single-threaded use only: httpcore's pool, driven from several threads at once, can drop
    connections without closing them (ResourceWarning). Concurrent tests pass ``http=``.
    """
    global _client
    if _client is None:
        _client = httpx.Client(timeout=30)
    return _client


def close_client() -> None:
    """Close the shared client (session teardown)."""
    global _client
    if _client is not None:
        _client.close()
        _client = None


def b64(data: bytes) -> str:
    """Base64 text of bytes."""
    return base64.b64encode(data).decode("ascii")


def message(
    fmt: str,
    *,
    data: bytes | None = None,
    url: str | None = None,
    version: str = "V2",
    request_id: str = "req-1",
    name: str = "doc",
    **extra: Any,
) -> dict[str, Any]:
    """A request message with one image (``data`` base64-encoded, or ``url``)."""
    image: dict[str, Any] = {"format": fmt, "name": name}
    if data is not None:
        image["data"] = b64(data)
    if url is not None:
        image["url"] = url
    template_ids = extra.pop("templateIds", None)
    if template_ids is not None:
        image["templateIds"] = template_ids
    body: dict[str, Any] = {
        "version": version,
        "requestId": request_id,
        "timestamp": 1_700_000_000_000,
        "images": [image],
    }
    body.update(extra)
    return body


def post_json(
    server: RunningServer,
    body: Any,
    *,
    api: str = "general",
    secret: str | None = None,
    url: str | None = None,
    http: httpx.Client | None = None,
) -> httpx.Response:
    """POST a JSON body to an invoke URL with the secret header (``http``: a client to use)."""
    headers = {"X-OCR-SECRET": server.secret if secret is None else secret}
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    headers["Content-Type"] = "application/json"
    return (http or client()).post(url or server.invoke_url(api), content=content, headers=headers)


def post_multipart(
    server: RunningServer,
    msg: dict[str, Any],
    data: bytes,
    *,
    api: str = "general",
    filename: str = "doc",
) -> httpx.Response:
    """POST a multipart body (``message`` + ``file``)."""
    return client().post(
        server.invoke_url(api),
        headers={"X-OCR-SECRET": server.secret},
        data={"message": json.dumps(msg)},
        files={"file": (filename, data, "application/octet-stream")},
    )


def ocr(
    server: RunningServer, path: Path | bytes, fmt: str, *, api: str = "general", **kw: Any
) -> dict[str, Any]:
    """A successful call's JSON (asserts HTTP 200)."""
    data = path if isinstance(path, bytes) else path.read_bytes()
    r = post_json(server, message(fmt, data=data, **kw), api=api)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def blank_png(width: int = 64, height: int = 32) -> bytes:
    """A white PNG without truth."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "PNG")
    return out.getvalue()


def blank_pdf(pages: int, width: int = 100, height: int = 50) -> bytes:
    """A PDF of ``pages`` white pages (width x height points at 72 dpi)."""
    images = [Image.new("RGB", (width, height), "white") for _ in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=72.0)
    return out.getvalue()


def blank_tiff(pages: int, width: int = 80, height: int = 40) -> bytes:
    """A multi-frame TIFF of white frames."""
    images = [Image.new("L", (width, height), 255) for _ in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "TIFF", save_all=True, append_images=images[1:])
    return out.getvalue()


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert a CLOVA error answer and return its body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert set(body) >= {"code", "message", "path", "timestamp", "traceId"}
    assert isinstance(body["timestamp"], int)
    assert body["path"] == httpx.URL(str(response.request.url)).path
    return body
