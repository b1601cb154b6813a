"""PostgreSQL lost in the middle of a load: the connection is cut, or the server restarts.

A second session holds a SHARE lock on ``etl_objects``, which the load writes last: the load
deletes and inserts every OCR table of its batch inside its transaction, then waits on that
lock. It is found in ``pg_stat_activity`` (waiting on a lock, with a transaction id, i.e. it
has written), and then either its backend is terminated (``pg_terminate_backend``) or the
whole server is restarted. For the client both are the same fault: the connection dies
mid-transaction. The previous state must be intact, the objects of the failed run must stay
unfinished, and the next run must load everything exactly once without calling the API.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from clova_etl.config import (
    OCRConfig,
    PipelineConfig,
    RunConfig,
    SourceConfig,
    StoreConfig,
    WarehouseConfig,
)
from clova_etl.pipeline import run_ingest
from clova_etl.server import RunningServer

from .conftest import PrivatePostgres
from .helpers import assert_whole, copies, fill, objects, snapshot

pytestmark = pytest.mark.postgres

StartServer = Callable[..., RunningServer]


def _config(tmp_path: Path, server: RunningServer, warehouse: str) -> PipelineConfig:
    return PipelineConfig(
        source=SourceConfig(uri=str(tmp_path / "bucket")),
        store=StoreConfig(uri=str(tmp_path / "store")),
        warehouse=WarehouseConfig(uri=warehouse),
        ocr=OCRConfig(invoke_url=server.invoke_url("general"), secret=server.secret),
        run=RunConfig(batch_size=4),
    )


def _loading_backend(admin: object, database: str, deadline: float) -> int:
    """Pid of the load's backend once it waits on a lock after writing."""
    while time.monotonic() < deadline:
        rows = admin.execute(  # type: ignore[attr-defined]
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
            "AND wait_event_type = 'Lock' AND backend_xid IS NOT NULL",
            [database],
        ).fetchall()
        if rows:
            return int(rows[0][0])
        time.sleep(0.02)
    raise AssertionError("the load never reached etl_objects")


def _interrupted_load(
    tmp_path: Path,
    start_ocr_server: StartServer,
    sample_docs: dict[str, Path],
    warehouse: str,
    cut: Callable[[int], None],
) -> None:
    import psycopg

    server = start_ocr_server()
    config = _config(tmp_path, server, warehouse)
    sample = sample_docs["receipt-ko"].read_bytes()
    docs = [*copies(sample, 8, "pg"), sample_docs["invoice-table"].read_bytes()]
    first = {f"inbox/general/first-{i}.png": d for i, d in enumerate(docs[:4])}
    second = {f"inbox/general/second-{i}.png": d for i, d in enumerate(docs[4:])}
    fill(tmp_path / "bucket", first)
    assert run_ingest(config, run_id="first").complete
    before = snapshot(warehouse)
    assert len(before["ocr_requests"]) == 4 and before["ocr_fields"]

    fill(tmp_path / "bucket", second)
    database = warehouse.rsplit("/", 1)[1]
    blocker = psycopg.connect(warehouse, connect_timeout=5)
    blocker.execute("LOCK TABLE ocr.etl_objects IN SHARE MODE")
    failure: list[BaseException] = []

    def interrupt() -> None:
        try:
            with psycopg.connect(warehouse, autocommit=True, connect_timeout=5) as admin:
                pid = _loading_backend(admin, database, time.monotonic() + 60)
            cut(pid)
        except BaseException as exc:  # reported by the main thread
            failure.append(exc)
        finally:
            with contextlib.suppress(psycopg.Error):  # a restart took it down too
                blocker.rollback()

    watcher = threading.Thread(target=interrupt)
    watcher.start()
    try:
        with pytest.raises(Exception) as caught:
            run_ingest(config, run_id="interrupted")
    finally:
        watcher.join(timeout=90)
        blocker.close()
    assert not failure, failure
    assert type(caught.value).__name__ == "WarehouseUnavailableError", caught.value
    assert "retry" in str(caught.value)

    # The previous state is intact; the interrupted run's objects are not recorded as done.
    assert snapshot(warehouse) == before
    calls = server.stats()["total_calls"]
    assert calls == 9

    again = run_ingest(config, run_id="after")
    assert again.complete and again.discovered == len(second)
    assert again.totals["sent"] == 0 and again.totals["skipped_existing"] == len(second)
    assert server.stats()["total_calls"] == calls
    ends = objects(warehouse)
    assert {k: s for k, (s, _, _) in ends.items()} == dict.fromkeys({**first, **second}, "loaded")
    statuses = assert_whole(warehouse, tmp_path / "store")
    assert len(statuses) == 9 and set(statuses.values()) == {"succeeded"}
    after = snapshot(warehouse)
    for table, rows in before.items():
        if table != "etl_objects":
            assert set(map(repr, rows)) <= set(map(repr, after[table])), table
    assert set(server.stats()["billable_by_request_id"].values()) == {1}


def test_loading_backend_terminated_mid_transaction(
    tmp_path: Path,
    start_ocr_server: StartServer,
    sample_docs: dict[str, Path],
    pg_database: str,
) -> None:
    import psycopg

    def terminate(pid: int) -> None:
        with psycopg.connect(pg_database, autocommit=True) as admin:
            (ok,) = admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() or (None,)
            assert ok

    _interrupted_load(tmp_path, start_ocr_server, sample_docs, pg_database, terminate)


def test_postgres_server_restarted_mid_load(
    tmp_path: Path,
    start_ocr_server: StartServer,
    sample_docs: dict[str, Path],
    private_postgres: PrivatePostgres,
) -> None:
    def restart(pid: int) -> None:
        private_postgres.restart()

    _interrupted_load(tmp_path, start_ocr_server, sample_docs, private_postgres.uri, restart)
