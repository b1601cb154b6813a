"""The ``clova-etl serve`` and ``clova-etl samples`` commands, run as real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clova_etl.samples import SAMPLE_FILES
from tests.fixtures.net import free_port
from tests.server.helpers import b64, blank_png

SECRET = "cli-secret"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "clova_etl.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _wait_ready(proc: subprocess.Popen[str], port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.communicate()[1]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("server did not start")


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], int]]:
    """``clova-etl serve`` on a free port with a quota of 1, secret from the environment."""
    port = free_port()
    proc = _cli("serve", "--port", str(port), "--quota", "1", env={"CLOVA_OCR_SECRET": SECRET})
    try:
        _wait_ready(proc, port)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def test_serve_subprocess_answers(
    served: tuple[subprocess.Popen[str], int],
) -> None:
    proc, port = served
    url = f"http://127.0.0.1:{port}/custom/v1/42/abc/general"
    body = {
        "version": "V2",
        "requestId": "cli-1",
        "timestamp": 0,
        "images": [{"format": "png", "name": "p", "data": b64(blank_png())}],
    }
    with httpx.Client(timeout=10) as client:
        assert client.post(url, json=body, headers={"X-OCR-SECRET": "x"}).status_code == 401
        ok = client.post(url, json=body, headers={"X-OCR-SECRET": SECRET})
        assert ok.status_code == 200
        assert ok.json()["images"][0]["inferResult"] == "SUCCESS"
        over = client.post(url, json=body, headers={"X-OCR-SECRET": SECRET})
        assert over.status_code == 400 and over.json()["code"] == "0023"
        stats = client.get(f"http://127.0.0.1:{port}/_stats").json()
    assert stats["billable_by_request_id"] == {"cli-1": 1}
    # That it listens on loopback only is checked once, in tests/security (item 4).
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=10)
    # uvicorn shuts down gracefully, then re-raises the signal it caught (exit by SIGTERM).
    assert proc.returncode in (0, -signal.SIGTERM)
    assert "Finished server process" in stderr
    assert f"http://127.0.0.1:{port}/custom/v1/1234/local/general" in stderr
    assert SECRET not in stderr


def test_serve_without_secret_fails_clearly() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CLOVA_OCR_SECRET"}
    proc = subprocess.run(
        [sys.executable, "-m", "clova_etl.cli", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "a secret is required" in proc.stderr


def test_serve_unknown_engine_fails_clearly() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "clova_etl.cli", "serve", "--secret", "s", "--engine", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "unknown OCR engine 'nope'" in proc.stderr


def test_samples_command_writes_every_sample(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "clova_etl.cli", "samples", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted([*SAMPLE_FILES.values(), "templates.json"])
    assert "claim-form.png" in proc.stdout


def test_templates_file_sets_deployed_templates(sample_dir: Path, tmp_path: Path) -> None:
    from clova_etl.commands.serve import _load_templates

    assert _load_templates(sample_dir / "templates.json") == {1001: "claim-form"}
    other = tmp_path / "t.json"
    other.write_text(
        '{"templates": [{"id": 7, "name": "x", "page": {"width": 100, "height": 100},'
        ' "title": {"name": "title", "type": "NORMAL", "box": [0, 0, 50, 10]}, "regions": []}]}',
        encoding="utf-8",
    )
    assert _load_templates(other) == {7: "x"}


def test_bad_templates_file_fails_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "t.json"
    bad.write_text('{"templates": [{"id": 7, "regions": []}]}', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "clova_etl.cli", "serve", "--templates", str(bad), "--secret", "s"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "clova-etl serve:" in proc.stderr
    assert "template" in proc.stderr and "Traceback" not in proc.stderr


def test_serve_port_in_use_fails_clearly() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "clova_etl.cli", "serve", "--port", str(port), "--secret", "s"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
