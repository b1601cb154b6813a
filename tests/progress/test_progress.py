"""Progress of ``clova-etl ingest``/``replay``/``flatten``/``load``: live on a terminal, a
summary line every N seconds elsewhere, and never one line per request at the default level.

The commands run as subprocesses against the local OCR server (synthetic engine); the terminal
case runs them under a real pseudo-terminal.
"""

from __future__ import annotations

import os
import pty
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from clova_etl.progress import Phase

DOCS = ("receipt-ko", "receipt-en", "invoice-table", "notice-ja", "notice-zh-tw", "fax-2p")


@pytest.fixture
def bucket(tmp_path: Path, sample_docs: dict[str, Path]) -> Path:
    inbox = tmp_path / "bucket" / "inbox" / "general"
    inbox.mkdir(parents=True)
    for name in DOCS:
        shutil.copyfile(sample_docs[name], inbox / sample_docs[name].name)
    return tmp_path / "bucket"


def _ingest_args(tmp_path: Path, bucket: Path, server: Any) -> list[str]:
    return [
        sys.executable,
        "-m",
        "clova_etl.cli",
        "ingest",
        "--source",
        str(bucket),
        "--store",
        str(tmp_path / "store"),
        "--warehouse",
        f"duckdb:///{tmp_path / 'wh.duckdb'}",
        "--invoke-url",
        server.invoke_url("general"),
        "--secret-env",
        "TEST_OCR_SECRET",
        "--batch-size",
        "2",
    ]


def _env(server: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOVA_", "PYTEST"))}
    env.update(TEST_OCR_SECRET=server.secret, **extra)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.slow
def test_without_a_terminal_a_summary_every_n_seconds_and_no_request_lines(
    tmp_path: Path, bucket: Path, ocr_server: Any
) -> None:
    args = _ingest_args(tmp_path, bucket, ocr_server)
    # Interval 0: a summary after every answer, then one when the phase ends.
    proc = _run(args, _env(ocr_server, CLOVA_PROGRESS_SECONDS="0"))
    lines = [ln for ln in proc.stderr.splitlines() if "clova_etl.progress" in ln]
    ocr = [ln for ln in lines if "progress: OCR:" in ln]
    counts = [re.search(r"OCR: (\d+)/6 requests", ln).group(1) for ln in ocr]  # type: ignore[union-attr]
    assert counts == ["1", "2", "3", "4", "5", "6"]
    assert "ETA" in ocr[0] and "/s" in ocr[0]
    # Calls billed so far: at least the answers stored (others may be answered, not yet stored).
    billed = [int(re.search(r"billed (\d+)", ln).group(1)) for ln in ocr]  # type: ignore[union-attr]
    assert all(int(n) <= b <= 6 for n, b in zip(counts, billed, strict=True))
    assert ocr[-1].endswith("billed 6 (done)")
    assert any("progress: flatten: 6/6" in ln for ln in lines)
    assert any("progress: load: 1/1" in ln for ln in lines)
    assert "HTTP Request" not in proc.stderr and "ocr done" not in proc.stderr

    # The default interval (30 s) on a short run: one closing line per phase, that is all.
    replay = _run(
        [*args[:3], "replay", "--all", *args[6:10]], _env(ocr_server)
    )  # --store and --warehouse
    closing = [ln for ln in replay.stderr.splitlines() if "clova_etl.progress" in ln]
    assert len(closing) == 2 and all(ln.endswith("(done)") for ln in closing), closing


@pytest.mark.slow
def test_with_v_the_request_lines_come_back(tmp_path: Path, bucket: Path, ocr_server: Any) -> None:
    args = _ingest_args(tmp_path, bucket, ocr_server)
    proc = _run([*args[:3], "-v", *args[3:]], _env(ocr_server))
    assert proc.stderr.count("HTTP Request: POST") >= len(DOCS)
    assert ocr_server.secret not in proc.stderr


def _in_terminal(args: list[str], env: dict[str, str]) -> str:
    main, child = pty.openpty()
    proc = subprocess.Popen(args, stdin=child, stdout=child, stderr=child, env=env, close_fds=True)
    os.close(child)
    out = b""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    assert proc.wait(timeout=60) == 0, out.decode(errors="replace")
    return out.decode(errors="replace")


@pytest.mark.slow
def test_on_a_terminal_one_live_line_per_phase(
    tmp_path: Path, bucket: Path, ocr_server: Any
) -> None:
    env = _env(ocr_server, TERM="xterm-256color", COLUMNS="160", LINES="40")
    screen = _in_terminal(_ingest_args(tmp_path, bucket, ocr_server), env)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    assert re.search(r"OCR\s.*6/6 requests .*/s .*ETA .*billed 6", plain), plain[-3000:]
    assert re.search(r"flatten\s.*6/6 requests", plain) and re.search(r"load\s.*1/1 batch", plain)
    assert "\r" in screen  # redrawn in place
    assert "clova_etl.progress" not in plain  # no log lines instead of the live ones
    assert "HTTP Request" not in plain and "ocr done" not in plain
    assert "run cli__" in plain  # the report still follows


def test_summary_numbers() -> None:
    now = [100.0]  # a clock the test moves: a slow machine must not round 15 s up to 16 s
    phase = Phase("OCR", 10, "requests", clock=lambda: now[0])
    now[0] += 10.0
    phase.advance(4, billed=4)
    text = phase.summary()
    assert text.startswith("OCR: 4/10 requests (40%), 0.4/s, elapsed 10s, ETA 15s")
    assert text.endswith("billed 4")
    assert Phase("x", None, "documents").summary().startswith("x: 0 documents, 0.0/s")


@pytest.mark.slow
def test_flatten_and_load_commands_report_their_progress(
    tmp_path: Path, bucket: Path, ocr_server: Any
) -> None:
    _run(_ingest_args(tmp_path, bucket, ocr_server), _env(ocr_server))
    env = _env(ocr_server, CLOVA_PROGRESS_SECONDS="0")
    cli = [sys.executable, "-m", "clova_etl.cli"]
    flat = _run(
        [*cli, "flatten", str(tmp_path / "store" / "raw"), "--out", str(tmp_path / "pq")], env
    )
    assert re.search(r"progress: flatten: 6/6 documents \(100%\).*\(done\)", flat.stderr)
    load = _run(
        [*cli, "load", str(tmp_path / "pq"), "--warehouse", f"duckdb:///{tmp_path / 'x.duckdb'}"],
        env,
    )
    steps = re.findall(r"progress: load: (\d+)/7 tables", load.stderr)
    assert steps == ["1", "2", "3", "4", "5", "6", "7"], load.stderr
    assert "progress: load: 7/7 tables (100%)" in load.stderr and "(done)" in load.stderr
