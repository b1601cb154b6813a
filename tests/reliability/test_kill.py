"""``clova-etl ingest`` killed with SIGKILL in the middle of a batch, then run again.

The worker is a real ``clova-etl ingest`` process talking to the local OCR server (300 ms per
call, two calls in flight). It is killed once several answers are in the raw store and others
are still being waited for. The rerun must lose nothing, duplicate nothing, and buy nothing
twice that had been bought and stored.

The in-flight case: a request the dead worker had sent but whose answer it had not yet written
to the raw store is indistinguishable, for anyone reading the ledger, from one that was never
sent (CLOVA does not deduplicate ``requestId``, and there is no way to fetch an earlier answer).
Sending it again is the only way to get its answer, so at most ``concurrency`` requests (those
in flight at the kill) may be billed twice. Every request whose answer had been stored is billed
exactly once.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from clova_etl.server import RunningServer
from tests.fixtures.ocr_server import GatedEngine

from .helpers import assert_whole, cli, cli_popen, copies, duplicate_keys, fill, objects, query

N_DOCS = 12
CONCURRENCY = 2
CLAIM_TTL = 1.5


def _stored(store: Path) -> set[str]:
    return {p.stem for p in (store / "raw").glob("*.json")}


def test_kill_9_mid_batch_then_rerun_loses_nothing_and_rebuys_nothing_stored(
    tmp_path: Path,
    start_ocr_server: Callable[..., RunningServer],
    sample_docs: dict[str, Path],
) -> None:
    # Five answers, then the server holds the calls: the kill lands mid-run with two calls in
    # flight however late a loaded machine notices, instead of racing the worker to the end.
    engine = GatedEngine(5)
    server = start_ocr_server(latency_ms=300, engine=engine)
    bucket, store = tmp_path / "bucket", tmp_path / "store"
    warehouse = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    sample = sample_docs["receipt-ko"].read_bytes()
    docs = {
        f"inbox/general/scan {i:02d}.png": d for i, d in enumerate(copies(sample, N_DOCS, "kill"))
    }
    fill(bucket, docs)
    args = [
        "ingest",
        "--source",
        str(bucket),
        "--store",
        str(store),
        "--warehouse",
        warehouse,
        "--batch-size",
        "4",
        "--concurrency",
        str(CONCURRENCY),
    ]
    env = {
        "CLOVA_OCR_INVOKE_URL": server.invoke_url("general"),
        "CLOVA_OCR_SECRET": server.secret,
        # A claim left by the dead worker is stale after this long (a real deployment uses
        # minutes; the claim must outlive a batch, which here takes about a second).
        "CLOVA_ETL_RUN_CLAIM_TTL_SECONDS": str(CLAIM_TTL),
    }

    worker = cli_popen(args, env, tmp_path / "killed.log")
    try:
        deadline = time.monotonic() + 60
        # Kill inside the second batch: its first answer is stored, two calls are in flight.
        while len(_stored(store)) < 5 or engine.held < CONCURRENCY:
            assert worker.poll() is None, (tmp_path / "killed.log").read_text()
            assert time.monotonic() < deadline, "the worker never got going"
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        engine.release()
    assert worker.returncode == -signal.SIGKILL
    stored_before = _stored(store)
    assert len(stored_before) == 5, "the kill did not land mid-run"
    assert not (tmp_path / "wh.duckdb").exists() or not objects(warehouse)

    # The dead worker's claims go stale; meanwhile the server finishes (and counts, and bills)
    # the calls that were in flight: their answers go nowhere. (A call whose connection died
    # before the server finished it is not counted at all, like one never sent.)
    time.sleep(CLAIM_TTL + 0.2)
    sent_before = dict(server.stats()["calls_by_request_id"])
    rerun = cli([*args, "--json"], env)
    assert rerun.returncode == 0, rerun.stderr
    report = orjson.loads(rerun.stdout)
    assert report["totals"]["skipped_existing"] == len(stored_before)
    assert report["object_status"] == {"loaded": N_DOCS}

    # Zero lost documents: every object loaded, its request answered and loaded whole.
    assert {k: s for k, (s, _, _) in objects(warehouse).items()} == dict.fromkeys(docs, "loaded")
    statuses = assert_whole(warehouse, store)
    assert len(statuses) == N_DOCS and set(statuses.values()) == {"succeeded"}
    # Zero duplicate rows.
    assert duplicate_keys(warehouse) == {}
    ((n_rows, n_ids),) = query(
        warehouse, "SELECT count(*), count(DISTINCT request_id) FROM ocr.ocr_requests"
    )
    assert n_rows == n_ids == N_DOCS

    # Zero repeated billable calls for what had been stored before the kill.
    stats = server.stats()
    calls, billed = stats["calls_by_request_id"], stats["billable_by_request_id"]
    for rid in stored_before:
        assert calls[rid] == 1 and billed[rid] == 1, rid
    # Only requests in flight at the kill (sent, answer not stored) were sent a second time.
    twice = {rid for rid, n in calls.items() if n > 1}
    assert twice <= set(sent_before) - stored_before
    assert len(twice) <= CONCURRENCY and set(calls.values()) <= {1, 2}
    assert len(billed) == N_DOCS
