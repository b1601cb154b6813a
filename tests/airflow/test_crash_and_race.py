"""An OCR batch killed with SIGKILL and run again, and two workers racing on the same batch.

"Pays nothing twice" is read from the server's counters: a request whose answer reached the raw
store is never sent again. The one request in flight when the worker died (sent, answer not yet
stored) may be sent once more: nothing recorded that it was answered, so that is the only way to
get its answer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from tests.airflow.conftest import run_dag
from tests.fixtures.ocr_server import GatedEngine

pytestmark = pytest.mark.airflow

D1 = datetime(2024, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
DOCS = ["receipt-ko", "receipt-en", "invoice-table", "notice-ja", "notice-zh-tw", "contract-3p"]

# The OCR step as a worker runs it: ClovaOCROperator.execute() over one planned batch, in its
# own process. The plan comes from the same library call the discover task makes.
_WORKER = """
import json, sys
from types import SimpleNamespace
from clova_etl.airflow import ClovaOCROperator
from clova_etl.airflow.runtime import load_run_config
from clova_etl import pipeline

run_id = sys.argv[1]
params = {"clova_ocr_conn_id": "clova_ocr_default", "clova_ocr_template_conn_id": ""}
config = load_run_config(params, with_ocr=False)
found = pipeline.discover(config, "2024-03-01T00:00:00+00:00", "2024-03-02T00:00:00+00:00", run_id)
(batch,) = pipeline.plan(config, found, run_id)["batches"]
print("PLANNED", len(batch), flush=True)
op = ClovaOCROperator(task_id="ocr", requests=batch)
context = {"params": params, "dag": SimpleNamespace(dag_id="clova_ocr_ingest"), "run_id": run_id}
print("RESULT", json.dumps(op.execute(context)), flush=True)
"""


def _stored_request_ids(dep: Any) -> set[str]:
    """Request ids whose envelope is in the raw store (the bucket's ``store/raw/``)."""
    listing = dep.bucket.client.list_objects_v2(Bucket=dep.bucket.name, Prefix="store/raw/")
    return {
        obj["Key"].rsplit("/", 1)[-1].removesuffix(".json") for obj in listing.get("Contents", [])
    }


def test_killed_ocr_batch_reruns_losing_nothing_and_paying_nothing_twice(
    get_dag: Any, deployment: Any
) -> None:
    # One request at a time, 300 ms each; three answers, then the server holds the fourth call:
    # the kill lands mid-batch with one in flight however late a loaded machine notices.
    engine = GatedEngine(3)
    dep = deployment(
        server={"latency_ms": 300, "engine": engine},
        config={"run": {"batch_size": 10, "claim_ttl_seconds": 1.0}},
        conn_extra={"concurrency": 1},
    )
    for name in DOCS:
        dep.put(name, f"inbox/general/{dep.sample_docs[name].name}", at=D1 + timedelta(hours=1))

    worker = subprocess.Popen(
        [sys.executable, "-c", _WORKER, "crash-test-run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 60
        while len(_stored_request_ids(dep)) < 3 or engine.held < 1:
            assert worker.poll() is None, "the worker ended before it could be killed"
            assert time.monotonic() < deadline, "the worker never started calling"
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        engine.release()
    assert worker.returncode == -signal.SIGKILL
    # The call the worker had in flight ends at the server first (it holds the whole request).
    deadline = time.monotonic() + 60
    while (stats := dep.server.stats())["total_calls"] != sum(stats["responses_by_code"].values()):
        assert time.monotonic() < deadline, stats
        time.sleep(0.05)
    sent_before = dep.calls()
    stored_before = _stored_request_ids(dep)
    assert len(stored_before) == 3, "the kill did not land mid-batch"
    # The worker's claims on its in-flight request go stale after claim_ttl_seconds.
    time.sleep(1.2)

    run = run_dag(get_dag("clova_ocr_ingest"), D1 + DAY)
    assert run.state == "success"

    calls = dep.calls()
    billed = dep.server.stats()["billable_by_request_id"]
    # Nothing lost: every document loaded, each request once in the warehouse.
    statuses = dep.query("SELECT status FROM ocr.etl_objects")
    assert sorted(s for (s,) in statuses) == ["loaded"] * len(DOCS)
    rows = dep.query("SELECT request_id, count(*) FROM ocr.ocr_requests GROUP BY request_id")
    assert len(rows) == len(DOCS) and {n for _, n in rows} == {1}
    # Nothing paid twice: what was stored before the kill was never sent again ...
    for rid in stored_before:
        assert calls[rid] == 1 and billed[rid] == 1, rid
    # ... and only a request in flight at the kill (sent, answer never stored) went twice.
    twice = {rid for rid, n in calls.items() if n > 1}
    assert twice <= set(sent_before) - stored_before and len(twice) <= 1
    assert set(calls.values()) <= {1, 2}


def test_two_workers_racing_on_one_batch_send_each_request_once(
    airflow_home: Any, deployment: Any
) -> None:
    from clova_etl import pipeline
    from clova_etl.airflow import ClovaOCROperator
    from clova_etl.airflow.runtime import load_run_config

    dep = deployment(server={"latency_ms": 150}, config={"run": {"batch_size": 10}})
    for name in DOCS[:4]:
        dep.put(name, f"inbox/general/{dep.sample_docs[name].name}", at=D1 + timedelta(hours=1))
    params = {"clova_ocr_conn_id": "clova_ocr_default", "clova_ocr_template_conn_id": ""}
    config = load_run_config(params, with_ocr=False)
    found = pipeline.discover(config, D1, D1 + DAY, "race")
    (batch,) = pipeline.plan(config, found, "race")["batches"]

    results: dict[str, dict[str, Any]] = {}
    start = threading.Barrier(2)

    def worker(run_id: str) -> None:
        op = ClovaOCROperator(task_id="ocr", requests=batch)
        context = {"params": params, "dag": SimpleNamespace(dag_id="race"), "run_id": run_id}
        start.wait()
        results[run_id] = op.execute(context)

    threads = [threading.Thread(target=worker, args=(f"run-{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert set(results) == {"run-1", "run-2"}
    calls = dep.calls()
    assert len(calls) == 4 and set(calls.values()) == {1}
    sent = sum(r["sent"] for r in results.values())
    skipped = sum(r["skipped_claimed"] + r["skipped_existing"] for r in results.values())
    assert (sent, skipped) == (4, 4)
    # What travels as XCom is JSON and carries no secret.
    assert dep.server.secret not in json.dumps(results)
