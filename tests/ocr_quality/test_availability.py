"""Without the tesseract binary the engine refuses to start, saying what to install."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clova_etl.server import ServerConfig, get_engine, start_background
from clova_etl.server.tesseract import (
    TesseractUnavailableError,
    runtime,
    tesseract_available,
    tesseract_problem,
)


@pytest.fixture
def no_tesseract(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process as it is on a machine without tesseract (the probe is re-run)."""
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    runtime._check.cache_clear()
    try:
        yield
    finally:
        monkeypatch.undo()
        runtime._check.cache_clear()


@pytest.mark.usefixtures("no_tesseract")
def test_missing_binary_is_reported_with_the_fix() -> None:
    assert not tesseract_available()
    problem = tesseract_problem()
    assert problem is not None
    assert "tesseract binary is not on PATH" in problem
    assert "tesseract-ocr-kor" in problem and ".ci/setup" in problem


@pytest.mark.usefixtures("no_tesseract")
def test_server_start_fails_clearly() -> None:
    with pytest.raises(TesseractUnavailableError, match="OCR engine 'tesseract' is unavailable"):
        get_engine("tesseract")
    # Before any socket is bound (nothing leaks, nothing is announced).
    with pytest.raises(TesseractUnavailableError, match="install the Debian packages"):
        start_background(ServerConfig(port=0, secret="s", engine="tesseract"))


def test_missing_language_data_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytesseract

    monkeypatch.setattr(pytesseract, "get_languages", lambda config="": ["eng", "osd"])
    runtime._check.cache_clear()
    try:
        assert tesseract_problem() == (
            "tesseract language data missing: kor, jpn, chi_tra; " + runtime.INSTALL_HINT
        )
    finally:
        monkeypatch.undo()
        runtime._check.cache_clear()


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "clova_etl.cli", "serve", "--secret", "s", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_serve_says_so_at_start_up(tmp_path: Path) -> None:
    """`clova-etl serve --engine tesseract` on a machine without tesseract: exit 2, the fix."""
    proc = _serve("--engine", "tesseract", "--port", "0", env={"PATH": str(tmp_path)})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.startswith("clova-etl serve: OCR engine 'tesseract' is unavailable: ")
    assert "tesseract-ocr-kor" in err
    assert "Traceback" not in err


def test_serve_rejects_a_bad_template_file(tmp_path: Path) -> None:
    bad = tmp_path / "templates.json"
    bad.write_text('{"templates": [{"id": 1, "name": "form"}]}', encoding="utf-8")  # no regions
    proc = _serve("--engine", "tesseract", "--port", "0", "--templates", str(bad))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "templates.json: template 1 ('form'): 'page' must be" in err


@pytest.mark.tesseract
def test_serve_tesseract_with_a_template_file(tmp_path: Path) -> None:
    """The deployed templates' regions reach the engine: the note is matched over HTTP."""
    import base64
    import socket

    from tests.ocr_quality.corpus import DELIVERY_ID, delivery_note, write_delivery_templates

    path = write_delivery_templates(tmp_path / "templates.json")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = _serve("--engine", "tesseract", "--port", str(port), "--templates", str(path))
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/_health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.05)
        assert health.json() == {"status": "ok", "engine": "tesseract", "pid": proc.pid}
        image = {"format": "png", "name": "n", "data": base64.b64encode(delivery_note()).decode()}
        message = {"version": "V2", "requestId": "r", "timestamp": 0, "images": [image]}
        response = httpx.post(
            f"http://127.0.0.1:{port}/custom/v1/1/x/infer",
            json=message,
            headers={"X-OCR-SECRET": "s"},
            timeout=60,
        )
        assert response.json()["images"][0]["matchedTemplate"]["id"] == DELIVERY_ID
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
