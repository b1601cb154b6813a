"""``images[].url``: fetched only from allow-listed hosts, never following redirects."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.ocr_server import RunningServer
from tests.server.helpers import assert_error, message, post_json

StartServer = Callable[..., RunningServer]


class _Handler(SimpleHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def file_server(sample_dir: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving the samples folder; yields its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(sample_dir)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_no_url_is_fetched_by_default(ocr_server: RunningServer, file_server: str) -> None:
    r = post_json(ocr_server, message("png", url=f"{file_server}/receipt-ko.png"))
    body = assert_error(r, 400, "0011")
    assert "url not allowed" in body["message"]


def test_allowed_host_is_fetched(start_ocr_server: StartServer, file_server: str) -> None:
    server = start_ocr_server(allow_url_hosts=frozenset({"127.0.0.1"}))
    r = post_json(server, message("png", url=f"{file_server}/receipt-ko.png"))
    assert r.status_code == 200, r.text
    texts = [f["inferText"] for f in r.json()["images"][0]["fields"]]
    assert texts[:2] == ["(주)", "킹마트"]


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("http://localhost:{port}/receipt-ko.png", "url not allowed: host 'localhost'"),
        ("http://169.254.169.254/latest/meta-data", "url not allowed"),
        ("file:///etc/passwd", "must be an http(s) URL"),
        ("{base}/redirect", "answered HTTP 302"),
        ("{base}/missing.png", "answered HTTP 404"),
    ],
)
def test_refused_urls(start_ocr_server: StartServer, file_server: str, url: str, hint: str) -> None:
    server = start_ocr_server(allow_url_hosts=frozenset({"127.0.0.1"}))
    port = file_server.rsplit(":", 1)[1]
    r = post_json(server, message("png", url=url.format(base=file_server, port=port)))
    assert hint in assert_error(r, 400, "0011")["message"]


def test_data_wins_over_url(ocr_server: RunningServer, sample_docs: dict[str, Path]) -> None:
    body = message(
        "png", data=sample_docs["notice-ja"].read_bytes(), url="http://169.254.169.254/x"
    )
    assert post_json(ocr_server, body).status_code == 200
