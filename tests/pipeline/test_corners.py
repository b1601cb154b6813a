"""Odd corners of buckets, folders and clients (issue 15): one test per row of its table.

Real components throughout: a real FIFO and Unix socket in the bucket folder, a real moto S3
server for the key cases, real DuckDB processes holding the warehouse file, the local OCR server
counting what is sent. The only fault injected by hand is a read that fails with "permission
denied" (the tests run as root, for whom the kernel grants every read).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from clova_etl import pipeline
from clova_etl.config import (
    PipelineConfig,
    RouteRule,
    RunConfig,
    SourceConfig,
    StoreConfig,
    WarehouseConfig,
)
from clova_etl.pipeline import run_ingest
from clova_etl.pipeline.errors import StorageError
from clova_etl.pipeline.storage import Storage
from clova_etl.server import RunningServer

from .conftest import jpeg, pdf, png, put
from .helpers import query, with_server

StartServer = Callable[..., RunningServer]
REPO = Path(__file__).resolve().parents[2]
_T = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def server(start_ocr_server: StartServer) -> RunningServer:
    return start_ocr_server()


def _objects(config: PipelineConfig) -> dict[str, tuple[str, str | None]]:
    """etl_objects as {key decoded from source_uri: (status, error_code)}."""
    source = Storage.open(config.source)
    rows = query(config, "SELECT source_uri, status, error_code FROM ocr.etl_objects")
    return {source.key_for(uri): (status, code) for uri, status, code in rows}


def _cli(config_file: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "clova_etl.cli", "ingest", "--config", str(config_file), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def _toml(config: PipelineConfig, path: Path, **warehouse: Any) -> Path:
    extra = "".join(f"{k} = {v!r}\n" for k, v in warehouse.items())
    path.write_text(
        textwrap.dedent(f"""\
        [source]
        uri = "{config.source.uri}"
        [store]
        uri = "{config.store.uri}"
        [warehouse]
        uri = "{config.warehouse.uri}"
        """)
        + extra
        + textwrap.dedent(f"""\
        [ocr]
        invoke_url = "{config.ocr.invoke_url}"
        secret = "{config.ocr.secret.get_secret_value() if config.ocr.secret else ""}"
        max_retries = 1
        """)
    )
    return path


# -- a FIFO, a socket, a read that keeps failing ------------------------------------------------


def test_fifo_is_rejected_unopened_and_planning_never_blocks(
    local_config: PipelineConfig, server: RunningServer, tmp_path: Path
) -> None:
    config = with_server(local_config, server)
    put(config, "inbox/general/ok.png", png(1))
    fifo = Path(config.source.uri) / "inbox/general/pipe.png"
    os.mkfifo(fifo)
    toml = _toml(config, tmp_path / "c.toml")
    # Before the fix, opening the FIFO waited for a writer forever: bounded by the timeout.
    dry = _cli(toml, "--dry-run", timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert "1 rejected" in dry.stdout
    real = _cli(toml, timeout=120)
    assert real.returncode == 0, real.stderr
    assert _objects(config) == {
        "inbox/general/ok.png": ("loaded", None),
        "inbox/general/pipe.png": ("rejected", "not_a_regular_file"),
    }
    assert server.stats()["total_calls"] == 1


def test_socket_is_rejected_on_the_first_run(
    local_config: PipelineConfig, server: RunningServer
) -> None:
    config = with_server(local_config, server)
    folder = Path(config.source.uri) / "inbox/general"
    folder.mkdir(parents=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(folder / "listening.sock"))
        report = run_ingest(config, run_id="r1")
    finally:
        sock.close()
    assert report.deferred_objects == 0 and report.rejected_objects == 1
    assert _objects(config) == {"inbox/general/listening.sock": ("rejected", "not_a_regular_file")}


def test_a_read_that_keeps_failing_ends_unreadable_after_the_configured_attempts(
    local_config: PipelineConfig, server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = with_server(local_config, server)
    config.run = RunConfig(max_read_attempts=2)
    put(config, "inbox/general/locked.png", png(2))
    put(config, "inbox/general/ok.png", png(3))
    real_read = Storage._read_local

    def denied(self: Storage, key: str) -> bytes:
        # Root reads every file: permission denied (or an I/O error) is injected here.
        if key.endswith("locked.png"):
            raise StorageError(f"cannot read {key}: [Errno 13] Permission denied")
        return real_read(self, key)

    monkeypatch.setattr(Storage, "_read_local", denied)
    first = run_ingest(config, run_id="r1")
    assert first.deferred_objects == 1
    assert "locked.png" not in str(_objects(config))
    second = run_ingest(config, run_id="r2")
    assert second.deferred_objects == 0
    state = _objects(config)
    assert state["inbox/general/locked.png"] == ("rejected", "unreadable")
    ((message,),) = query(
        config, "SELECT error_message FROM ocr.etl_objects WHERE source_uri LIKE '%locked.png'"
    )
    assert "Permission denied" in message and "2 attempt" in message
    third = run_ingest(config, run_id="r3")  # terminal: never taken again
    assert third.discovered == 0


# -- keys are identities --------------------------------------------------------------------


ODD_KEYS = {
    "inbox/general/a.png": png(10),
    "inbox/general//a.png": png(11),
    "inbox/general/./b.png": png(12),
    "inbox/general/../c.png": png(13),
    "inbox/general/d.png ": png(14),  # a trailing space
    "inbox/general/a%20b.png": png(15),
}


def test_s3_keys_are_kept_verbatim_and_their_uris_decode_back(
    s3_bucket: Any, server: RunningServer, tmp_path: Path
) -> None:
    for key, data in ODD_KEYS.items():
        s3_bucket.put(key, data)
    config = with_server(
        PipelineConfig(
            source=SourceConfig(
                **s3_bucket.config("").model_dump(exclude={"uri"}), uri=s3_bucket.uri()
            ),
            store=StoreConfig(uri=str(tmp_path / "store")),
            warehouse=WarehouseConfig(uri=f"duckdb:///{tmp_path / 'wh.duckdb'}"),
        ),
        server,
    )
    report = run_ingest(config, run_id="r1")
    assert report.complete
    assert server.stats()["total_calls"] == len(ODD_KEYS)  # every object's own bytes sent
    rows = query(config, "SELECT source_uri, source_sha256, status FROM ocr.etl_objects")
    from clova_etl.identity import sha256_hex

    by_key = {}
    for uri, sha, status in rows:
        parts = urlsplit(uri)
        assert parts.scheme == "s3" and " " not in uri  # a valid URI
        key = unquote(parts.path).removeprefix("/")
        by_key[key] = (sha, status)
    assert by_key == {k: (sha256_hex(d), "loaded") for k, d in ODD_KEYS.items()}


def test_local_source_uri_is_percent_encoded(
    local_config: PipelineConfig, server: RunningServer
) -> None:
    config = with_server(local_config, server)
    put(config, "inbox/general/a%20b.png", png(20))
    put(config, "inbox/general/a b.png", png(21))
    run_ingest(config, run_id="r1")
    uris = sorted(u for (u,) in query(config, "SELECT source_uri FROM ocr.etl_objects"))
    assert [Path(unquote(urlsplit(u).path)).name for u in uris] == ["a b.png", "a%20b.png"]
    assert all(" " not in u for u in uris)


# -- each object judged by its own bytes ----------------------------------------------------


def test_an_intact_twin_stands_in_for_a_deleted_carrier(
    local_config: PipelineConfig, server: RunningServer
) -> None:
    config = with_server(local_config, server)
    data = png(30)
    first = put(config, "inbox/general/1-first.png", data)
    put(config, "inbox/general/2-twin.png", data)
    found = pipeline.discover(config, None, None, "r1")
    planned = pipeline.plan(config, found, "r1")
    assert len(planned["batches"]) == 1
    first.unlink()  # deleted after planning
    results = [pipeline.ocr_batch(config, b, "r1") for b in planned["batches"]]
    flat = pipeline.flatten_run(config, "r1", results)
    pipeline.load_run(config, flat, "r1")
    assert server.stats()["total_calls"] == 1
    state = _objects(config)
    assert state["inbox/general/2-twin.png"] == ("loaded", None)
    # The request was answered from identical bytes: nobody is rejected for another's change.
    assert "source_changed" not in str(state)


def test_twins_are_kept_in_one_batch(local_config: PipelineConfig) -> None:
    config = local_config
    config.run = RunConfig(batch_size=1)
    put(config, "inbox/general/a.png", png(40))
    put(config, "inbox/general/m.png", png(41))
    put(config, "inbox/general/z.png", png(40))
    planned = pipeline.plan(config, pipeline.discover(config, None, None, "r"), "r")
    keys = [[item["key"] for item in b] for b in planned["batches"]]
    assert ["inbox/general/a.png", "inbox/general/z.png"] in keys


# -- versions of local files ----------------------------------------------------------------


def _stored_png(seed: int) -> bytes:
    """A PNG without compression: its size depends on its dimensions only."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (64, 48), seed).save(buf, "PNG", compress_level=0)
    return buf.getvalue()


def test_an_in_place_edit_with_mtime_put_back_is_seen(
    local_config: PipelineConfig, server: RunningServer
) -> None:
    config = with_server(local_config, server)
    path = put(config, "inbox/general/edited.png", _stored_png(50))
    before = path.stat()
    since = "2000-01-01T00:00:00+00:00"
    run_ingest(config, run_id="r1", interval_start=since)
    assert server.stats()["total_calls"] == 1
    edited = _stored_png(51)
    assert len(edited) == before.st_size
    time.sleep(0.01)
    with path.open("r+b") as f:  # in place: same inode, same size
        f.write(edited)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    run_ingest(config, run_id="r2", interval_start=since)
    assert server.stats()["total_calls"] == 2
    from clova_etl.identity import sha256_hex

    shas = {sha for (sha,) in query(config, "SELECT source_sha256 FROM ocr.etl_objects")}
    assert sha256_hex(edited) in shas  # the new version has its own row


# -- hidden files -----------------------------------------------------------------------------


def test_hidden_files_are_recorded_as_skipped_or_taken_by_configuration(
    local_config: PipelineConfig, server: RunningServer
) -> None:
    config = with_server(local_config, server)
    put(config, "inbox/general/..dots...png", png(60))
    put(config, "inbox/general/.DS_Store", b"\x00\x00\x00\x01Bud1")
    put(config, "inbox/general/seen.png", png(61))
    run_ingest(config, run_id="r1")
    state = _objects(config)
    assert state == {
        "inbox/general/..dots...png": ("skipped", "hidden"),
        "inbox/general/.DS_Store": ("skipped", "hidden"),
        "inbox/general/seen.png": ("loaded", None),
    }
    assert server.stats()["total_calls"] == 1
    config.source = config.source.model_copy(update={"hidden": "take"})
    run_ingest(config, run_id="r2", interval_start="2000-01-01T00:00:00+00:00")
    state = _objects(config)
    assert state["inbox/general/..dots...png"] == ("loaded", None)
    assert state["inbox/general/.DS_Store"] == ("rejected", "unsupported_format")


# -- pricing and re-planning ----------------------------------------------------------------


def test_dry_run_price_equals_the_real_bill_with_duplicates(
    local_config: PipelineConfig, server: RunningServer
) -> None:
    config = with_server(local_config, server)
    contents = [png(70), jpeg(seed=71), pdf(3, seed=72), pdf(12, seed=73)]
    n = 0
    for copies, data in zip((3, 1, 2, 2), contents, strict=True):
        for i in range(copies):
            put(config, f"inbox/general/f{n}-{i}.{'pdf' if data[:4] == b'%PDF' else 'img'}", data)
            n += 1
    dry = run_ingest(config, run_id="dry", dry_run=True)
    priced = (dry.estimate["to_send_calls"], dry.estimate["to_send_pages"])
    # 4 distinct contents; the 12-page PDF is 2 requests (10 + 2 pages).
    assert priced == (5, 1 + 1 + 3 + 12)
    real = run_ingest(config, run_id="real")
    stats = server.stats()
    assert (stats["billable_calls"], stats["billable_pages"]) == priced
    assert (real.totals["billable_calls"], real.totals["billable_pages"]) == priced


def test_changed_route_options_are_applied_by_replan(
    local_config: PipelineConfig, server: RunningServer
) -> None:
    config = with_server(local_config, server)
    put(config, "inbox/general/a.png", png(80))
    put(config, "inbox/general/b.png", png(81))
    run_ingest(config, run_id="r1")
    assert server.stats()["total_calls"] == 2
    config.routes = [
        RouteRule(name="general", pattern="inbox/general/**", api="general", lang="ja"),
    ]
    plain = run_ingest(config, run_id="r2")  # documented: finished objects are not re-planned
    assert plain.discovered == 0 and server.stats()["total_calls"] == 2
    replanned = run_ingest(config, run_id="r3", replan=True)
    assert replanned.discovered == 2 and server.stats()["total_calls"] == 4
    langs = query(config, "SELECT lang, count(*) FROM ocr.ocr_requests GROUP BY ALL ORDER BY 1")
    assert langs == [("ja", 2), (None, 2)]
    again = run_ingest(config, run_id="r4", replan=True)  # nothing changed: nothing sent
    assert again.discovered == 2 and server.stats()["total_calls"] == 4


# -- the warehouse held by other processes ------------------------------------------------


@contextlib.contextmanager
def _hold(path: Path, seconds: float, *, read_only: bool) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the DuckDB file (a writer, or an analyst's read-only session)."""
    code = (
        "import duckdb, sys, time\n"
        f"con = duckdb.connect({str(path)!r}, read_only={read_only})\n"
        "con.execute('SELECT 1').fetchall()\n"
        "print('holding', flush=True)\n"
        f"time.sleep({seconds})\n"
        "con.close()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        yield proc
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _warehouse_file(config: PipelineConfig) -> Path:
    return Path(config.warehouse.uri.removeprefix("duckdb:///"))


@pytest.mark.parametrize("read_only", [False, True], ids=["second-writer", "analyst-reader"])
def test_a_held_duckdb_file_makes_the_load_wait_then_succeed(
    local_config: PipelineConfig, server: RunningServer, tmp_path: Path, read_only: bool
) -> None:
    config = with_server(local_config, server)
    put(config, "inbox/general/a.png", png(90))
    run_ingest(config, run_id="r0")  # the file exists (a reader needs it)
    put(config, "inbox/general/b.png", png(91))
    toml = _toml(config, tmp_path / "c.toml")
    with _hold(_warehouse_file(config), 3, read_only=read_only) as holder:
        started = time.monotonic()
        result = _cli(toml, timeout=120)
        waited = time.monotonic() - started
        assert holder.poll() is not None  # the holder finished first: the load waited for it
    assert result.returncode == 0, result.stderr
    assert waited >= 2
    assert _objects(config)["inbox/general/b.png"] == ("loaded", None)


def test_a_duckdb_file_held_too_long_fails_with_one_line_and_exit_4(
    local_config: PipelineConfig, server: RunningServer, tmp_path: Path
) -> None:
    config = with_server(local_config, server)
    put(config, "inbox/general/a.png", png(92))
    run_ingest(config, run_id="r0")
    put(config, "inbox/general/b.png", png(93))
    toml = _toml(config, tmp_path / "c.toml", lock_wait_seconds=1.0)
    with _hold(_warehouse_file(config), 60, read_only=True):
        result = _cli(toml, timeout=120)
    assert result.returncode == 4
    errors = [line for line in result.stderr.splitlines() if "clova-etl ingest" in line]
    assert len(errors) == 1 and "warehouse busy" in errors[0]
    assert "lock_wait_seconds" in errors[0]
    assert "Traceback" not in result.stderr
    # The answer is stored: the next run loads it without a call.
    calls = server.stats()["total_calls"]
    assert _cli(toml, timeout=120).returncode == 0
    assert server.stats()["total_calls"] == calls
    assert _objects(config)["inbox/general/b.png"] == ("loaded", None)


# -- the image-size guard -------------------------------------------------------------------


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression bomb's shape)."""
    import io
    import struct
    import zlib

    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = 8 + 8  # signature, then IHDR's length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def test_an_a0_scan_at_300_dpi_is_taken_and_a_bomb_is_refused() -> None:
    import io

    from PIL import Image

    from clova_etl.config import LimitsConfig
    from clova_etl.pipeline.planner import plan_object
    from clova_etl.pipeline.routing import Router
    from clova_etl.pipeline.storage import ObjectInfo

    def planned(data: bytes, limits: LimitsConfig) -> Any:
        info = ObjectInfo("inbox/general/x.png", "file:///b/x.png", len(data), _T)
        return plan_object(info, data, Router(PipelineConfig().routes), limits)

    a0 = Image.new("1", (9933, 14043), 1)  # 841 x 1189 mm at 300 dpi: 139.5 Mpx
    buf = io.BytesIO()
    a0.save(buf, "PNG")
    scan = buf.getvalue()
    del a0
    assert planned(scan, LimitsConfig()).error_code is None
    bomb = _png_claiming(100_000, 100_000)  # 10 Gpx claimed by a few bytes
    refused = planned(bomb, LimitsConfig())
    assert refused.error_code == "too_large" and "limits.max_pixels" in (
        refused.error_message or ""
    )
    # Configurable both ways.
    assert planned(scan, LimitsConfig(max_pixels=100_000_000)).error_code == "too_large"


class _NormalisingProxy:
    """An HTTP proxy in front of S3 that normalises object paths, as some gateways do."""

    def __init__(self, upstream: str) -> None:
        import http.server
        import posixpath
        import threading

        import httpx

        client = httpx.Client(base_url=upstream, timeout=30)

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                path, _, query = self.path.partition("?")
                if not query:  # an object request, not a listing: "a/../b" becomes "b"
                    path = posixpath.normpath(path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                url = path + (f"?{query}" if query else "")
                answer = client.request(self.command, url, content=body, headers=headers)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("transfer-encoding", "content-encoding", "connection"):
                        self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.content)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._client = client
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._client.close()


def test_a_key_the_endpoint_would_normalise_is_refused_not_misread(
    s3_bucket: Any, server: RunningServer, tmp_path: Path
) -> None:
    s3_bucket.put("inbox/general/b.png", png(100))
    s3_bucket.put("inbox/general/x/../b.png", png(101))  # another object, same normal form
    proxy = _NormalisingProxy(s3_bucket.server.endpoint_url)
    try:
        source = s3_bucket.config("").model_dump(exclude={"uri", "endpoint_url"})
        config = with_server(
            PipelineConfig(
                source=SourceConfig(**source, uri=s3_bucket.uri(), endpoint_url=proxy.url),
                store=StoreConfig(uri=str(tmp_path / "store")),
                warehouse=WarehouseConfig(uri=f"duckdb:///{tmp_path / 'wh.duckdb'}"),
            ),
            server,
        )
        run_ingest(config, run_id="r1")
    finally:
        proxy.close()
    rows = query(config, "SELECT source_uri, status, error_code FROM ocr.etl_objects")
    by_key = {unquote(urlsplit(u).path).removeprefix("/"): (s, c) for u, s, c in rows}
    assert by_key == {
        "inbox/general/b.png": ("loaded", None),
        "inbox/general/x/../b.png": ("rejected", "unsafe_path"),
    }
    assert server.stats()["total_calls"] == 1  # b.png's bytes were never sent for the other


def test_a_read_failing_when_sending_is_bounded_too(
    local_config: PipelineConfig, server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Readable when planned, unreadable when its request is about to be sent (for good).
    config = with_server(local_config, server)
    config.run = RunConfig(max_read_attempts=2)
    put(config, "inbox/general/later-denied.pdf", pdf(12, seed=110))  # 2 requests, 1 object
    planned = pipeline.plan(config, pipeline.discover(config, None, None, "r1"), "r1")
    real_read = Storage._read_local

    def denied(self: Storage, key: str) -> bytes:
        if key.endswith("later-denied.pdf"):
            raise StorageError(f"cannot read {key}: [Errno 5] Input/output error")
        return real_read(self, key)

    monkeypatch.setattr(Storage, "_read_local", denied)
    (batch,) = planned["batches"]
    first = pipeline.ocr_batch(config, batch, "r1")
    assert len(first["pending_ids"]) == 2 and first["rejected"] == 0  # one attempt, counted once
    second = pipeline.ocr_batch(config, batch, "r2")
    assert second["pending_ids"] == [] and second["rejected"] == 2
    assert server.stats()["total_calls"] == 0
    flat = pipeline.flatten_run(config, "r2", [second])
    pipeline.load_run(config, flat, "r2")
    ((status, code, message),) = query(
        config, "SELECT status, error_code, error_message FROM ocr.etl_objects"
    )
    assert (status, code) == ("rejected", "unreadable") and "Input/output error" in message
