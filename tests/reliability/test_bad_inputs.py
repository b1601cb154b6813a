"""Bad inputs in one batch with good documents: each ends as a recorded reason, none stops it.

Asserted in the warehouse (``etl_objects`` and ``ocr_requests``: status and error_code), and on
the server's counters (nothing bad is ever sent). Decompression bombs are also checked for what
they cost: the planner and the local server must refuse them without decoding them (Pillow's
decompression-bomb guard honoured, turned into a clear reason), so their peak memory stays low.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import orjson
import pytest

from clova_etl.config import (
    OCRConfig,
    PipelineConfig,
    RunConfig,
    SourceConfig,
    StoreConfig,
    WarehouseConfig,
)
from clova_etl.pipeline import PipelineError, run_ingest
from clova_etl.server import RunningServer
from tests.fixtures.net import free_port

from . import documents as make
from .helpers import REPO_ROOT, assert_whole, copies, fill, objects, query

StartServer = Callable[..., RunningServer]
MB = 1024 * 1024

# Bombs: far over Pillow's hard limit (error), and between its warning and error limits.
BOMB = (30_000, 30_000)
MID_BOMB = (13_000, 13_000)

# key -> (etl_objects status, error_code) expected for the bad inputs.
BAD: dict[str, tuple[str, str]] = {
    "inbox/general/empty.png": ("rejected", "empty_file"),
    "inbox/general/cut.jpg": ("rejected", "unreadable"),
    "inbox/general/bomb.png": ("rejected", "too_large"),
    "inbox/general/bomb-mid.png": ("rejected", "too_large"),
    "inbox/general/bomb.tiff": ("rejected", "too_large"),
    "inbox/general/locked.pdf": ("rejected", "encrypted"),
    "inbox/general/letter.docx": ("rejected", "unsupported_format"),
    "inbox/general/letter.pdf": ("rejected", "unsupported_format"),  # a .docx named .pdf
    "inbox/general/over-50mb.pdf": ("rejected", "too_large"),
    "inbox/general/escape.png": ("rejected", "unsafe_path"),  # symlink out of the bucket
    "inbox/general/linked": ("rejected", "unsafe_path"),  # symlinked folder
}
# key -> (source_format, [(page_start, page_end)] of its requests) for the good ones.
GOOD: dict[str, tuple[str, list[tuple[int | None, int | None]]]] = {
    "inbox/general/receipt.png": ("png", [(None, None)]),
    "inbox/general/스캔 문서 (1) é.png": ("png", [(None, None)]),  # spaces and Unicode
    "inbox/general/photo.pdf": ("png", [(None, None)]),  # a PNG named .pdf
    "inbox/general/long-12p.pdf": ("pdf", [(1, 10), (11, 12)]),  # split at 10 pages
}


def _bad_batch(bucket: Path, outside: Path, sample: bytes) -> None:
    good = copies(sample, 3, "good")
    fill(
        bucket,
        {
            "inbox/general/receipt.png": good[0],
            "inbox/general/스캔 문서 (1) é.png": good[1],
            "inbox/general/photo.pdf": good[2],
            "inbox/general/long-12p.pdf": make.pdf_pages(12),
            "inbox/general/empty.png": b"",
            "inbox/general/cut.jpg": make.truncated_jpeg(),
            "inbox/general/bomb.png": make.png_bomb(*BOMB),
            "inbox/general/bomb-mid.png": make.png_bomb(*MID_BOMB),
            "inbox/general/bomb.tiff": make.tiff_bomb(*BOMB),
            "inbox/general/locked.pdf": make.encrypted_pdf(),
            "inbox/general/letter.docx": make.docx(),
            "inbox/general/letter.pdf": make.docx("renamed"),
            "inbox/general/over-50mb.pdf": make.big_pdf(50 * MB + 1),
        },
    )
    outside.mkdir()
    (outside / "secret.png").write_bytes(sample + b"OUTSIDE-THE-BUCKET")
    (bucket / "inbox/general/escape.png").symlink_to(outside / "secret.png")
    (bucket / "inbox/general/linked").symlink_to(outside, target_is_directory=True)


def test_one_batch_of_every_bad_input_with_good_documents(
    tmp_path: Path, start_ocr_server: StartServer, sample_docs: dict[str, Path]
) -> None:
    server = start_ocr_server()
    bucket, outside = tmp_path / "bucket", tmp_path / "outside"
    _bad_batch(bucket, outside, sample_docs["receipt-ko"].read_bytes())
    config = PipelineConfig(
        source=SourceConfig(uri=str(bucket)),
        store=StoreConfig(uri=str(tmp_path / "store")),
        warehouse=WarehouseConfig(uri=f"duckdb:///{tmp_path / 'wh.duckdb'}"),
        ocr=OCRConfig(invoke_url=server.invoke_url("general"), secret=server.secret),
        run=RunConfig(batch_size=64),
    )

    report = run_ingest(config, run_id="bad-inputs")
    assert report.complete, report.render()
    assert report.object_status == {"loaded": len(GOOD), "rejected": len(BAD)}

    ends = objects(config.warehouse.uri)
    assert set(ends) == set(BAD) | set(GOOD)
    for key, (status, code) in BAD.items():
        got_status, got_code, message = ends[key]
        assert (got_status, got_code) == (status, code), (key, ends[key])
        assert message, key
    assert "too many pixels" in (ends["inbox/general/bomb.png"][2] or "")
    for key in GOOD:
        assert ends[key] == ("loaded", None, None), key

    # Each rejected object is also its request's row, with the same reason.
    rows = query(
        config.warehouse.uri,
        "SELECT source_uri, status, error_code, source_format, page_start, page_end "
        "FROM ocr.ocr_requests",
    )
    by_key: dict[str, list[tuple[Any, ...]]] = {}
    for uri, *rest in rows:
        # source_uri is percent-encoded: decoded, it gives the key back.
        by_key.setdefault(unquote(uri.split("/inbox/", 1)[1]), []).append(tuple(rest))
    for key, (_, code) in BAD.items():
        ((status, got_code, _, _, _),) = by_key[key.removeprefix("inbox/")]
        assert (status, got_code) == ("rejected", code), key
    for key, (fmt, pages) in GOOD.items():
        got = sorted(by_key[key.removeprefix("inbox/")], key=lambda r: r[3] or 0)
        assert [(r[0], r[2]) for r in got] == [("succeeded", fmt)] * len(pages), key
        assert [(r[3], r[4]) for r in got] == pages, key
    assert_whole(config.warehouse.uri, tmp_path / "store")

    # Only the good documents were sent (the 12-page PDF as two requests), each once.
    stats = server.stats()
    assert stats["total_calls"] == 5 and set(stats["calls_by_request_id"].values()) == {1}
    # Nothing of the file behind the symlink was read into the store.
    for path in (tmp_path / "store").rglob("*"):
        if path.is_file():
            assert b"OUTSIDE-THE-BUCKET" not in path.read_bytes(), path


def test_dot_dot_and_absolute_paths_are_refused_before_reading(
    tmp_path: Path, start_ocr_server: StartServer, sample_docs: dict[str, Path]
) -> None:
    server = start_ocr_server()
    bucket, outside = tmp_path / "bucket", tmp_path / "outside"
    fill(bucket, {"inbox/general/a.png": sample_docs["receipt-ko"].read_bytes()})
    outside.mkdir()
    (outside / "secret.png").write_bytes(sample_docs["receipt-ko"].read_bytes())
    config = PipelineConfig(
        source=SourceConfig(uri=str(bucket)),
        store=StoreConfig(uri=str(tmp_path / "store")),
        warehouse=WarehouseConfig(uri=f"duckdb:///{tmp_path / 'wh.duckdb'}"),
        ocr=OCRConfig(invoke_url=server.invoke_url("general"), secret=server.secret),
    )
    for key, why in [
        ("inbox/general/../../outside/secret.png", "escapes the root"),
        (str(outside / "secret.png"), "absolute key refused"),
        ((outside / "secret.png").as_uri(), "is not under"),
    ]:
        with pytest.raises(PipelineError, match=why):
            run_ingest(config, force=[key], run_id="force-escape")
    assert server.stats()["total_calls"] == 0


def test_dot_dot_key_in_an_s3_bucket_is_its_own_object(
    s3_bucket: Any, start_ocr_server: StartServer, sample_docs: dict[str, Path], tmp_path: Path
) -> None:
    # S3 keys are plain strings: "inbox/general/../../evil.png" is a valid key, another object
    # than "evil.png", and nothing can escape a bucket through it. It is read verbatim (the
    # endpoint is checked to resolve it to the listed object), never normalised.
    server = start_ocr_server()
    source = s3_bucket.config("")
    config = PipelineConfig(
        source=SourceConfig(**source.model_dump()),
        store=StoreConfig(uri=str(tmp_path / "store")),
        warehouse=WarehouseConfig(uri=f"duckdb:///{tmp_path / 'wh.duckdb'}"),
        ocr=OCRConfig(invoke_url=server.invoke_url("general"), secret=server.secret),
    )
    s3_bucket.put("inbox/general/ok.png", sample_docs["receipt-ko"].read_bytes())
    s3_bucket.put("inbox/general/../../evil.png", sample_docs["notice-ja"].read_bytes())
    report = run_ingest(config, run_id="s3-dots")
    assert report.complete and report.object_status == {"loaded": 2}
    ends = query(config.warehouse.uri, "SELECT source_uri, status, error_code FROM ocr.etl_objects")
    by_key = {unquote(uri.split("://", 1)[1].split("/", 1)[1]): s for uri, s, _ in ends}
    assert by_key == {"inbox/general/ok.png": "loaded", "inbox/general/../../evil.png": "loaded"}
    assert server.stats()["total_calls"] == 2


# -- decompression bombs: what they cost -------------------------------------------------------

_PLANNER_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from datetime import UTC, datetime
    from clova_etl.config import LimitsConfig, default_routes
    from clova_etl.pipeline.planner import plan_object
    from clova_etl.pipeline.routing import Router
    from clova_etl.pipeline.storage import ObjectInfo
    from tests.reliability import documents as make

    bombs = {{
        "bomb.png": make.png_bomb(*{bomb}),
        "bomb-mid.png": make.png_bomb(*{mid}),
        "bomb.tiff": make.tiff_bomb(*{bomb}),
    }}
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {{}}
    for name, data in bombs.items():
        info = ObjectInfo(key="inbox/general/" + name, uri="file:///b/" + name, size=len(data),
                          last_modified=datetime.now(UTC))
        planned = plan_object(info, data, Router(default_routes()), LimitsConfig())
        out[name] = [planned.error_code, planned.error_message]
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    print(json.dumps({{"growth_kb": growth, "plans": out}}))
    """
)


def test_planner_refuses_bombs_without_decoding_them() -> None:
    script = _PLANNER_SCRIPT.format(bomb=BOMB, mid=MID_BOMB)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = orjson.loads(done.stdout)
    for name, (code, message) in result["plans"].items():
        assert code == "too_large", (name, code, message)
        assert "pixels" in message, message
    # Decoding the mid-size bomb alone would take 169 MB (1 byte per pixel), the big ones 900 MB.
    assert result["growth_kb"] < 64 * 1024, result


def _peak_rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match, status
    return int(match.group(1))


@pytest.fixture
def served_subprocess() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``clova-etl serve`` in its own process (so its memory can be read), and its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "clova_etl.cli", "serve", "--port", str(port)],
        cwd=REPO_ROOT,
        env={**os.environ, "CLOVA_OCR_SECRET": "bomb-secret"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "the server exited"
            try:
                if httpx.get(f"{base}/_health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield proc, base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_local_server_answers_bombs_as_unreadable_without_decoding_them(
    served_subprocess: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, base = served_subprocess
    bombs = {
        "png": make.png_bomb(*BOMB),
        "png-mid": make.png_bomb(*MID_BOMB),
        "tiff": make.tiff_bomb(*BOMB),
        # Rendered at the server's 144 dpi, one page of 200 x 200 inches is 829 Mpx (8+ GB).
        "pdf": make.pdf_page_bomb(),
    }
    before = _peak_rss_kb(proc.pid)
    with httpx.Client(timeout=60) as client:
        for name, data in bombs.items():
            fmt = name.split("-")[0]
            message = {
                "version": "V2",
                "requestId": f"bomb-{name}",
                "timestamp": 0,
                "images": [{"format": fmt, "name": name}],
            }
            answer = client.post(
                f"{base}/general",
                headers={"X-OCR-SECRET": "bomb-secret"},
                files={"message": (None, orjson.dumps(message)), "file": (f"b.{fmt}", data)},
            )
            assert answer.status_code == 200, (name, answer.text)
            (image,) = answer.json()["images"]
            assert image["inferResult"] == "ERROR", (name, image)
            assert re.search(r"pixels?\b", image["message"]), image
        stats = client.get(f"{base}/_stats").json()
    assert stats["billable_calls"] == 0  # an unreadable image is not charged
    assert _peak_rss_kb(proc.pid) - before < 64 * 1024
