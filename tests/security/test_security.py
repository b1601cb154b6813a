"""Security: the secret stays secret, configured names never become SQL, the server is no proxy.

1. A full ``clova-etl ingest`` (debug logging, faults on, a wrong secret tried first, a run id
   and object keys made of SQL and HTML metacharacters), ``replay`` and ``report``: the secret
   (as written, base64 or URL-encoded) is in no output, no file of the store, no Parquet value,
   no byte or row of the DuckDB warehouse and not in the HTML report.
2. The same through Airflow (``dag.test``): not in the task logs, the XCom table, anything
   under AIRFLOW_HOME (the metadata database included), the store or the warehouse.
3. Schema names given in configuration are quoted, never spliced: a name made of SQL lands as
   that exact schema and harms nothing else; unusable names are refused before connecting.
4. The local OCR server binds 127.0.0.1 unless told otherwise.
5. ``images[].url`` is fetched only from allow-listed hosts and never through a redirect: cloud
   metadata addresses, loopback services, ``file://`` and URL-parsing tricks get 0011, and a
   canary listener on 127.0.0.1 sees no connection. Nothing outside 127.0.0.x is contacted.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from clova_etl.server import RunningServer
from tests.fixtures.net import free_port
from tests.fixtures.shared import skip_or_fail
from tests.reliability.helpers import REPO_ROOT, cli, copies, fill, query

from .scan import duckdb_values_with, files_with, in_text, parquet_values_with

StartServer = Callable[..., RunningServer]

# A run id and object keys an attacker (or an unlucky user) could choose.
EVIL_RUN_ID = "sec'); DROP TABLE ocr.ocr_requests; --"
SQL_KEY = "inbox/general/o'brien\"; DROP TABLE ocr.ocr_requests; --.png"
HTML_KEY = "inbox/general/<img src=x onerror=alert(1)>.png"


def _secret(kind: str) -> str:
    return f"sk-{kind}-{uuid.uuid4().hex}"


# -- 1. the CLI -----------------------------------------------------------------------------


def test_cli_ingest_replay_and_report_leave_the_secret_nowhere(
    tmp_path: Path, start_ocr_server: StartServer, sample_docs: dict[str, Path]
) -> None:
    secret, wrong = _secret("clova"), _secret("wrong")
    server = start_ocr_server(secret=secret, fail_rate=0.2, malformed_rate=0.1, seed=2)
    bucket, store = tmp_path / "bucket", tmp_path / "store"
    warehouse_file = tmp_path / "wh.duckdb"
    warehouse = f"duckdb:///{warehouse_file}"
    receipt = sample_docs["receipt-ko"].read_bytes()
    fill(
        bucket,
        {
            "inbox/general/receipt.png": receipt,
            "inbox/general/contract.pdf": sample_docs["contract-3p"].read_bytes(),
            "inbox/template/1001/claim.png": sample_docs["claim-form"].read_bytes(),
            SQL_KEY: copies(receipt, 1, "sql")[0],
            HTML_KEY: b"",  # rejected: its key is shown in the report's failures
        },
    )
    env = {
        "CLOVA_OCR_INVOKE_URL": server.invoke_url("general"),
        "CLOVA_OCR_TEMPLATE_INVOKE_URL": server.invoke_url("template"),
        "CLOVA_ETL_OCR_MAX_RETRIES": "3",
    }
    common = ["--store", str(store), "--warehouse", warehouse]
    ingest = ["-v", "ingest", "--source", str(bucket), *common]
    outputs = []

    refused = cli(ingest, {**env, "CLOVA_OCR_SECRET": wrong})
    outputs.append(refused.stdout + refused.stderr)
    assert refused.returncode == 2, refused.stderr
    assert "secret" in refused.stderr.lower()

    for attempt in range(3):
        done = cli(
            [*ingest, "--run-id", f"{EVIL_RUN_ID}{attempt}", "--json"],
            env | {"CLOVA_OCR_SECRET": secret},
        )
        outputs.append(done.stdout + done.stderr)
        assert done.returncode == 0, done.stderr
        if json.loads(done.stdout)["object_status"].get("pending", 0) == 0:
            break
    replayed = cli(["-v", "replay", *common, "--all"], {})
    outputs.append(replayed.stdout + replayed.stderr)
    assert replayed.returncode == 0, replayed.stderr

    report = tmp_path / "report.html"
    made = cli(["-v", "report", "--warehouse", warehouse, "--out", str(report), "--text"], {})
    outputs.append(made.stdout + made.stderr)
    assert made.returncode == 0, made.stderr
    # A run id filter made of SQL is a literal: it matches no run, it does not widen the report.
    injected = cli(
        ["report", "--warehouse", warehouse, "--run-id", "x' OR '1'='1", "--out", str(report)],
        {},
    )
    assert injected.returncode == 0, injected.stderr
    assert ": 0 document(s)" in injected.stdout, injected.stdout
    made = cli(["report", "--warehouse", warehouse, "--out", str(report)], {})
    assert made.returncode == 0

    # The secret, and the wrong one tried first, are nowhere.
    for value in (secret, wrong):
        assert not [o for o in outputs if in_text(o, value)]
        assert files_with([store, warehouse_file, report], value) == []
        assert parquet_values_with(store / "parquet", value) == []
        assert duckdb_values_with(warehouse_file, value) == []
    assert any("ocr " in o for o in outputs), "debug logging produced nothing to scan"
    # Controls: the same scans do find what is there (a word the receipt's OCR answer holds).
    assert parquet_values_with(store / "parquet", "킹마트")
    assert duckdb_values_with(warehouse_file, "킹마트")
    assert files_with([store], "킹마트")

    # Metacharacters in run ids and keys are data: stored as written, nothing dropped.
    run_ids = {r for (r,) in query(warehouse, "SELECT DISTINCT run_id FROM ocr.ocr_requests")}
    assert any(r.startswith(EVIL_RUN_ID) for r in run_ids), run_ids
    uris = {u for (u,) in query(warehouse, "SELECT source_uri FROM ocr.etl_objects")}
    keys = {unquote(u.split("/bucket/", 1)[1]) for u in uris}  # source_uri decodes to the key
    assert {SQL_KEY, HTML_KEY} <= keys, keys
    html = report.read_text()
    # The key reaches the report as its percent-encoded URI: markup cannot get through.
    assert "<img src=x onerror" not in html and "%3Cimg%20src%3Dx%20onerror" in html


# -- 2. Airflow -----------------------------------------------------------------------------


@pytest.mark.airflow
def test_airflow_run_leaves_the_secret_nowhere(
    airflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    start_ocr_server: StartServer,
    sample_docs: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    import logging

    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from tests.fixtures.airflow import DAGS_FOLDER

    secret = _secret("airflow")
    server = start_ocr_server(secret=secret, fail_rate=0.2, seed=4)
    day = datetime(2024, 5, 1, tzinfo=UTC)
    bucket, store = tmp_path / "bucket", tmp_path / "store"
    warehouse_file = tmp_path / "wh.duckdb"
    fill(
        bucket,
        {
            "inbox/general/receipt.png": sample_docs["receipt-ko"].read_bytes(),
            "inbox/general/contract.pdf": sample_docs["contract-3p"].read_bytes(),
            "inbox/general/empty.png": b"",
        },
    )
    stamp = (day + timedelta(hours=2)).timestamp()
    for path in bucket.rglob("*"):
        os.utime(path, (stamp, stamp))
    config = {
        "source": {"uri": str(bucket)},
        "store": {"uri": str(store)},
        "warehouse": {"uri": f"duckdb:///{warehouse_file}"},
        "run": {"batch_size": 2},
    }
    monkeypatch.setenv("AIRFLOW_VAR_CLOVA_ETL_CONFIG", json.dumps(config))
    monkeypatch.setenv(
        "AIRFLOW_CONN_CLOVA_OCR_DEFAULT",
        json.dumps(
            {
                "conn_type": "clova_ocr",
                "host": server.invoke_url("general"),
                "password": secret,
                "extra": {"max_retries": 4},
            }
        ),
    )
    bag = DagBag(dag_folder=str(DAGS_FOLDER / "clova_ocr_ingest.py"))
    assert bag.import_errors == {}
    dag = bag.get_dag("clova_ocr_ingest")
    for task in dag.tasks:
        task.retries = 0
    caplog.set_level(logging.DEBUG)
    run = dag.test(logical_date=day + timedelta(days=1))
    assert run.state == "success"
    assert query(f"duckdb:///{warehouse_file}", "SELECT count(*) FROM ocr.ocr_requests") == [(3,)]

    with create_session() as session:
        rows = session.scalars(
            select(XComModel).where(XComModel.dag_id == run.dag_id, XComModel.run_id == run.run_id)
        ).all()
        xcom = repr([(r.task_id, r.key, r.value) for r in rows])
        xcom += repr([XComModel.deserialize_value(r) for r in rows])
    assert rows and "request_id" in xcom
    assert not in_text(xcom, secret)
    out, err = capfd.readouterr()
    assert not in_text(caplog.text + out + err, secret)
    # Task logs, the metadata database (XCom, rendered fields, task instances) and the rest.
    assert files_with([airflow_home], secret) == []
    assert files_with([airflow_home], run.run_id), "the scan saw nothing of this run"
    assert files_with([store, warehouse_file], secret) == []
    assert parquet_values_with(store / "parquet", secret) == []
    assert duckdb_values_with(warehouse_file, secret) == []


# -- 3. configured names in SQL ---------------------------------------------------------------

EVIL_SCHEMAS = [
    'ocr"; DROP TABLE ocr.ocr_requests; --',
    "ocr'; DROP SCHEMA ocr CASCADE; --",
    "Robert'); DROP TABLE etl_loads;--",
]


@pytest.fixture(scope="module")
def parquet_batch(
    tmp_path_factory: pytest.TempPathFactory, sample_docs: dict[str, Path]
) -> Iterator[Path]:
    """A run's Parquet folder (flattened from the local server's answers)."""
    from clova_etl.config import (
        OCRConfig,
        PipelineConfig,
        SourceConfig,
        StoreConfig,
        WarehouseConfig,
    )
    from clova_etl.pipeline import run_ingest
    from clova_etl.server import ServerConfig, start_background

    root = tmp_path_factory.mktemp("batch")
    fill(root / "bucket", {"inbox/general/receipt.png": sample_docs["receipt-ko"].read_bytes()})
    server = start_background(ServerConfig(port=0, secret="s"))
    try:
        config = PipelineConfig(
            source=SourceConfig(uri=str(root / "bucket")),
            store=StoreConfig(uri=str(root / "store")),
            warehouse=WarehouseConfig(uri=f"duckdb:///{root / 'first.duckdb'}"),
            ocr=OCRConfig(invoke_url=server.invoke_url("general"), secret="s"),
        )
        assert run_ingest(config, run_id="batch").complete
    finally:
        server.stop()
    yield root / "store" / "parquet" / "batch"


def _schemas(uri: str) -> set[str]:
    return {s for (s,) in query(uri, "SELECT schema_name FROM information_schema.schemata")}


def _load_evil_schemas(uri: str, batch: Path, evil: list[str], sentinel: str) -> None:
    from clova_etl.cli import main

    assert main(["load", str(batch), "--warehouse", uri, "--schema", sentinel]) == 0
    before = query(uri, f'SELECT count(*) FROM "{sentinel}".ocr_fields')
    for name in evil:
        assert main(["load", str(batch), "--warehouse", uri, "--schema", name]) == 0
        assert main(["check", "--warehouse", uri, "--schema", name]) == 0
        assert name in _schemas(uri)
        quoted = '"' + name.replace('"', '""') + '"'
        assert query(uri, f"SELECT count(*) FROM {quoted}.ocr_fields") == before
    # The sentinel schema and its tables are untouched.
    assert sentinel in _schemas(uri)
    assert query(uri, f'SELECT count(*) FROM "{sentinel}".ocr_fields') == before
    assert query(uri, f'SELECT count(*) FROM "{sentinel}".etl_loads') == [(1,)]


def test_schema_names_made_of_sql_are_quoted_on_duckdb(
    parquet_batch: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from clova_etl.cli import main

    uri = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    _load_evil_schemas(uri, parquet_batch, EVIL_SCHEMAS, "ocr")
    report = tmp_path / "r.html"
    args = ["report", "--warehouse", uri, "--schema", EVIL_SCHEMAS[0], "--out", str(report)]
    assert main(args) == 0 and report.exists()
    capsys.readouterr()
    for name, why in [("bad\x00name", "control characters"), ("x" * 64, "longer than 63")]:
        assert main(["load", str(parquet_batch), "--warehouse", uri, "--schema", name]) != 0
        assert why in capsys.readouterr().err


@pytest.mark.postgres
def test_schema_names_made_of_sql_are_quoted_on_postgresql(
    parquet_batch: Path, postgres_uri: str, pg_schema: Callable[[str], str]
) -> None:
    from tests.fixtures.warehouse import _drop_schema

    sentinel = pg_schema("sec_")
    evil = [sentinel + name for name in EVIL_SCHEMAS]
    try:
        _load_evil_schemas(postgres_uri, parquet_batch, evil, sentinel)
    finally:
        for name in evil:
            _drop_schema(postgres_uri, name)


# -- 4. the local server binds loopback --------------------------------------------------------


def _listening(port: int) -> set[str]:
    """Local addresses LISTENing on ``port`` (hex, as /proc/net/tcp spells them)."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if Path(table).exists():
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:
                    out.add(address)
    return out


def test_local_server_binds_loopback_by_default() -> None:
    from clova_etl.cli import build_parser
    from clova_etl.server import ServerConfig

    assert build_parser().parse_args(["serve", "--secret", "s"]).host == "127.0.0.1"
    assert ServerConfig(secret="s").host == "127.0.0.1"
    if not Path("/proc/net/tcp").exists():
        return
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "clova_etl.cli", "serve", "--port", str(port)],
        cwd=REPO_ROOT,
        env={**os.environ, "CLOVA_OCR_SECRET": "bind-secret"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.05)
        assert _listening(port) == {"0100007F"}  # 127.0.0.1 only
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- 5. no SSRF ---------------------------------------------------------------------------------


class _Listener:
    """An HTTP server on a loopback address that counts the requests it gets."""

    def __init__(self, host: str, png: bytes, redirect_to: str = "") -> None:
        self.hits: list[str] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener.hits.append(self.path)
                if self.path.startswith("/redirect") and redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(png)))
                self.end_headers()
                self.wfile.write(png)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def listeners(sample_docs: dict[str, Path]) -> Iterator[tuple[_Listener, _Listener]]:
    """(canary on 127.0.0.1, allowed image host on 127.0.0.2 redirecting to the canary)."""
    png = sample_docs["receipt-ko"].read_bytes()
    canary = _Listener("127.0.0.1", png)
    try:
        allowed = _Listener(
            "127.0.0.2", png, f"http://127.0.0.1:{canary.port}/latest/meta-data/iam/"
        )
    except OSError as exc:
        canary.close()
        skip_or_fail(f"127.0.0.2 is not a loopback address here: {exc}")
    try:
        yield canary, allowed
    finally:
        allowed.close()
        canary.close()


def _post_url(server: RunningServer, url: str) -> httpx.Response:
    body = {
        "version": "V2",
        "requestId": "ssrf",
        "timestamp": 0,
        "images": [{"format": "png", "name": "u", "url": url}],
    }
    return httpx.post(
        server.invoke_url("general"),
        json=body,
        headers={"X-OCR-SECRET": server.secret},
        timeout=120,  # past the server's fetch timeout below: its answer, not ours, is seen
    )


REFUSED_URLS = [
    "http://127.0.0.1:{c}/latest/meta-data/",  # a metadata-like service on loopback
    "http://localhost:{c}/latest/meta-data/",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "file:///etc/passwd",
    "ftp://127.0.0.2:{a}/receipt.png",
    "gopher://127.0.0.1:{c}/_GET",
    "http://127.0.0.2@127.0.0.1:{c}/",  # userinfo naming the allowed host
    "http://127.0.0.2:{a}@127.0.0.1:{c}/",
    "http://0x7f000001:{c}/",
    "http://2130706433:{c}/",
    "http://127.1:{c}/",
    "http://[::ffff:127.0.0.1]:{c}/",
    "http://127.0.0.2.nip.io:{c}/",
    "http://127.0.0.2:{a}/redirect",  # allowed host, redirect to the canary: not followed
]


def test_image_urls_outside_the_allow_list_are_refused_with_0011(
    start_ocr_server: StartServer, listeners: tuple[_Listener, _Listener]
) -> None:
    canary, allowed = listeners
    # A fetch tried and timed out takes 60 s; a refusal takes well under 30 s even on a
    # loaded machine, so the bound below tells them apart.
    server = start_ocr_server(allow_url_hosts=frozenset({"127.0.0.2"}), url_fetch_timeout=60.0)
    ok = _post_url(server, f"http://127.0.0.2:{allowed.port}/receipt.png")
    assert ok.status_code == 200 and ok.json()["images"][0]["inferResult"] == "SUCCESS"
    assert allowed.hits == ["/receipt.png"]

    for template in REFUSED_URLS:
        url = template.format(c=canary.port, a=allowed.port)
        started = time.monotonic()
        answer = _post_url(server, url)
        assert answer.status_code == 400, (url, answer.text)
        assert answer.json()["code"] == "0011", (url, answer.text)
        assert time.monotonic() - started < 30, url  # refused, not timed out somewhere
    assert canary.hits == []
    assert allowed.hits == ["/receipt.png", "/redirect"]
    assert server.stats()["billable_calls"] == 1


def test_no_url_is_fetched_without_an_allow_list(
    start_ocr_server: StartServer, listeners: tuple[_Listener, _Listener]
) -> None:
    canary, allowed = listeners
    server = start_ocr_server()
    for host, port in (("127.0.0.1", canary.port), ("127.0.0.2", allowed.port)):
        answer = _post_url(server, f"http://{host}:{port}/receipt.png")
        assert answer.status_code == 400 and answer.json()["code"] == "0011"
        assert re.search("not in this server's allow-list", answer.json()["message"])
    assert canary.hits == [] and allowed.hits == []
