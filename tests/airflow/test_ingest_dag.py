"""clova_ocr_ingest end to end with dag.test(): local OCR server, moto bucket, DuckDB/PostgreSQL.

Every assertion about money is made on the server's own counters (``/_stats``): calls and
billable calls by request id.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.airflow.conftest import rendered_fields, run_dag, task_states, xcom_values

pytestmark = pytest.mark.airflow

DAY = timedelta(days=1)
D1 = datetime(2024, 3, 1, tzinfo=UTC)
INGEST = "clova_ocr_ingest"
TEMPLATE = {"clova_ocr_template_conn_id": "clova_ocr_template"}

# Day of upload -> samples uploaded that day (five requests: the PDF is one 3-page request).
BACKFILL = {
    D1: ["receipt-ko", "contract-3p"],
    D1 + DAY: ["invoice-table"],
    D1 + 2 * DAY: ["claim-form"],
}


def _loaded_objects(dep: Any) -> dict[str, str]:
    rows = dep.query("SELECT source_uri, status FROM ocr.etl_objects")
    return {uri.rsplit("/", 1)[-1]: status for uri, status in rows}


def _request_rows(dep: Any) -> Counter[str]:
    return Counter(r[0] for r in dep.query("SELECT request_id FROM ocr.ocr_requests"))


def test_three_interval_backfill_then_rerun_makes_zero_calls(get_dag: Any, deployment: Any) -> None:
    dep = deployment()
    for day, names in BACKFILL.items():
        for name in names:
            dep.put(name, at=day + timedelta(hours=9))

    runs = [run_dag(get_dag(INGEST), day + DAY, **TEMPLATE) for day in BACKFILL]
    assert [r.state for r in runs] == ["success"] * 3
    # Each interval took exactly its own day's objects.
    for run, names in zip(runs, BACKFILL.values(), strict=True):
        (plan,) = xcom_values(run, "discover", key="plan")
        assert plan["objects"] == len(names), (run.run_id, plan)
    calls = dep.calls()
    assert len(calls) == 4 and set(calls.values()) == {1}
    assert set(dep.server.stats()["billable_by_request_id"].values()) == {1}
    assert _loaded_objects(dep) == {
        "receipt-ko.png": "loaded",
        "contract-3p.pdf": "loaded",
        "invoice-table.png": "loaded",
        "claim-form.png": "loaded",
    }
    assert set(_request_rows(dep)) == set(calls) and set(_request_rows(dep).values()) == {1}

    # The same three days again (a re-run of the backfill): zero calls, no duplicate rows.
    total_before = dep.total_calls()
    reruns = [run_dag(get_dag(INGEST), day + DAY, **TEMPLATE) for day in BACKFILL]
    assert [r.state for r in reruns] == ["success"] * 3
    assert dep.total_calls() == total_before
    for run in reruns:
        (summary,) = xcom_values(run, "finish")
        assert summary["ocr"]["sent"] == 0 and summary["ocr"]["billable_calls"] == 0
        assert summary["ocr"]["skipped_existing"] == summary["ocr"]["requests"]
    assert set(_request_rows(dep).values()) == {1}


def test_dry_run_prices_a_backfill_range_without_calling(get_dag: Any, deployment: Any) -> None:
    dep = deployment()
    for day, names in BACKFILL.items():
        for name in names:
            dep.put(name, at=day + timedelta(hours=9))
    run = run_dag(
        get_dag(INGEST),
        D1 + DAY,
        dry_run=True,
        from_date=D1.isoformat(),
        to_date=(D1 + 3 * DAY).isoformat(),
        **TEMPLATE,
    )
    assert run.state == "success"
    assert dep.total_calls() == 0
    (report,) = xcom_values(run, "finish")
    assert report["dry_run"] is True and report["objects"] == 4
    est = report["estimate"]
    # receipt + invoice + claim form (1 page each) + the 3-page contract in one request.
    assert (est["to_send_calls"], est["to_send_pages"], est["already_done"]) == (4, 6, 0)
    assert task_states(run)["ocr"] == "skipped"


def test_quota_exhaustion_stops_the_run_cleanly_and_the_next_run_resumes(
    get_dag: Any, deployment: Any
) -> None:
    dep = deployment(server={"quota": 2}, config={"run": {"batch_size": 1}})
    for name in ("receipt-ko", "invoice-table", "contract-3p"):
        dep.put(name, at=D1 + timedelta(hours=1))

    run = run_dag(get_dag(INGEST), D1 + DAY)
    assert run.state == "failed"
    states = task_states(run)
    # The batches and the load succeed (what was answered is kept); only `finish` says no.
    assert states["flatten"] == states["load"] == "success" and states["finish"] == "failed"
    stats = dep.server.stats()
    assert stats["billable_calls"] == 2
    # One call learnt about the quota (0023); nothing was sent after it.
    assert stats["responses_by_code"].get("0023") == 1 and stats["total_calls"] == 3
    assert sorted(_loaded_objects(dep).values()) == ["loaded", "loaded", "pending"]

    # The quota is renewed: the next run sends only what is still pending.
    dep.server.reset_stats()
    rerun = run_dag(get_dag(INGEST), D1 + DAY)
    assert rerun.state == "success"
    assert dep.server.stats()["total_calls"] == 1
    assert set(_loaded_objects(dep).values()) == {"loaded"}


def test_throttling_is_absorbed(get_dag: Any, deployment: Any) -> None:
    # The server allows 2 calls per second; the client sends 4 at once and backs off on 0025
    # (with enough retries that jittered back-off always gets through).
    dep = deployment(
        server={"rate_limit": 2.0}, config={"run": {"batch_size": 4}}, conn_extra={"max_retries": 8}
    )
    for name in ("receipt-ko", "invoice-table", "notice-ja", "receipt-en"):
        key = f"inbox/general/{dep.sample_docs[name].name}"
        dep.put(name, key, at=D1 + timedelta(hours=1))
    run = run_dag(get_dag(INGEST), D1 + DAY)
    assert run.state == "success"
    stats = dep.server.stats()
    assert stats["responses_by_code"].get("0025", 0) > 0, "the test did not throttle"
    assert stats["billable_calls"] == 4
    assert set(stats["billable_by_request_id"].values()) == {1}


def test_mapped_ocr_tasks_get_batch_references_not_the_plan(get_dag: Any, deployment: Any) -> None:
    """XCom carries one small reference per batch; each mapped task reads its own batch.

    Airflow resolves a mapped argument by pulling the upstream's whole XCom in every mapped
    task: with the batches themselves in XCom a run's cost grew as documents² / batch size.
    """
    # Three requests, one sent at a time, in at most two batches: two mapped tasks.
    dep = deployment(config={"run": {"batch_size": 1, "max_batches": 2}})
    for name in ("receipt-ko", "invoice-table", "notice-ja"):
        dep.put(name, f"inbox/general/{dep.sample_docs[name].name}", at=D1 + timedelta(hours=1))
    run = run_dag(get_dag(INGEST), D1 + DAY)
    assert run.state == "success"
    (refs,) = xcom_values(run, "discover")
    assert [set(r) for r in refs] == [{"batch_key", "requests"}] * 2
    assert [r["requests"] for r in refs] == [2, 1]
    assert all(len(json.dumps(r)) < 200 for r in refs)  # a key and a count: no request in it
    assert "receipt-ko" not in json.dumps(refs)
    summaries = xcom_values(run, "ocr")
    assert sorted(len(s["request_ids"]) for s in summaries) == [1, 2]
    assert len({rid for s in summaries for rid in s["request_ids"]}) == 3  # each its own batch
    assert set(dep.calls().values()) == {1} and len(dep.calls()) == 3


def test_budgets_stop_before_spending_more(get_dag: Any, deployment: Any) -> None:
    dep = deployment(config={"run": {"batch_size": 1}})
    # Different documents each day: the same bytes on two days would be one request (free).
    for day, names in (
        (D1, ("receipt-ko", "invoice-table")),
        (D1 + DAY, ("notice-ja", "receipt-en")),
    ):
        for name in names:
            dep.put(
                name, f"inbox/general/{dep.sample_docs[name].name}", at=day + timedelta(hours=1)
            )

    # Per run: at most one billable call.
    run = run_dag(get_dag(INGEST), D1 + DAY, max_calls=1)
    assert run.state == "failed" and task_states(run)["finish"] == "failed"
    assert dep.server.stats()["billable_calls"] == 1

    # Per backfill (a scope shared by runs): two calls for both days together. The first day's
    # pending object takes one; the second day gets one of its two, and the other waits.
    scope = {"budget_scope": f"backfill-{uuid.uuid4().hex[:6]}", "scope_max_calls": 2}
    first = run_dag(get_dag(INGEST), D1 + DAY, **scope)
    second = run_dag(get_dag(INGEST), D1 + 2 * DAY, **scope)
    assert first.state == "success" and second.state == "failed"
    assert dep.server.stats()["billable_calls"] == 1 + 2
    batches = xcom_values(second, "ocr")
    assert sum(b["billable_calls"] for b in batches) == 1
    assert [b["stopped"] for b in batches].count("budget") == 1
    assert sum(len(b["pending_ids"]) for b in batches) == 1
    assert set(dep.server.stats()["billable_by_request_id"].values()) == {1}


def test_a_retried_ocr_task_pays_nothing_twice(
    get_dag: Any, deployment: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clova_etl import pipeline

    dep = deployment()
    for name in ("receipt-ko", "invoice-table"):
        dep.put(name, at=D1 + timedelta(hours=1))
    real = pipeline.ocr_batch
    crashed: list[str] = []

    def crash_after_storing(*args: Any, **kwargs: Any) -> dict[str, Any]:
        # The worker dies after the answers were stored but before Airflow saw the result:
        # a fault a test cannot produce otherwise in-process.
        result = real(*args, **kwargs)
        if not crashed:
            crashed.append(result["run_id"])
            raise ConnectionResetError("worker lost after the batch was stored")
        return result

    monkeypatch.setattr(pipeline, "ocr_batch", crash_after_storing)
    dag = get_dag(INGEST)
    ocr = dag.get_task("ocr")
    monkeypatch.setattr(ocr, "retries", 1)
    monkeypatch.setattr(ocr, "retry_delay", timedelta(0))
    run = run_dag(dag, D1 + DAY)
    assert run.state == "success" and crashed
    assert set(dep.calls().values()) == {1} and len(dep.calls()) == 2
    (summary,) = xcom_values(run, "ocr")
    assert summary["sent"] == 0 and summary["skipped_existing"] == 2  # the retry's own summary


def test_the_secret_reaches_no_xcom_rendered_field_or_log(
    get_dag: Any,
    deployment: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    secret = f"very-secret-{uuid.uuid4().hex}"
    dep = deployment(server={"secret": secret})
    dep.put("receipt-ko", at=D1 + timedelta(hours=1))
    caplog.set_level(logging.DEBUG)
    run = run_dag(get_dag(INGEST), D1 + DAY)
    assert run.state == "success" and len(dep.calls()) == 1
    seen = repr(xcom_values(run)) + repr(rendered_fields(run))
    assert xcom_values(run, "ocr") and rendered_fields(run)
    out, err = capfd.readouterr()
    assert secret not in seen
    # dag.test() runs the tasks in this process and writes no task log files: their logs go
    # to the logging system and the process's streams, captured here. Positive control: the
    # ocr task's own summary line and the invoke URL it called are in what is scanned.
    logs = caplog.text + out + err
    assert re.search(rf"ocr batch run_id=\S*{re.escape(run.run_id)} requests=1 sent=1", logs)
    assert secret not in logs


@pytest.mark.postgres
def test_ingest_rerun_and_replay_into_postgresql(
    get_dag: Any, deployment: Any, pg_warehouse_uri: str
) -> None:
    dep = deployment(warehouse_uri=pg_warehouse_uri)
    for name in ("receipt-ko", "claim-form"):
        dep.put(name, at=D1 + timedelta(hours=1))
    assert run_dag(get_dag(INGEST), D1 + DAY, **TEMPLATE).state == "success"
    assert set(_loaded_objects(dep).values()) == {"loaded"}
    rerun = run_dag(get_dag(INGEST), D1 + DAY, **TEMPLATE)
    assert rerun.state == "success"
    assert len(dep.calls()) == 2 and set(dep.calls().values()) == {1}
    assert set(_request_rows(dep).values()) == {1}
    # And a replay into PostgreSQL: same rows, zero calls.
    fields = dep.query("SELECT count(*) FROM ocr.ocr_fields")
    replay = run_dag(get_dag("clova_ocr_replay"), D1, request_ids=sorted(dep.calls()))
    assert replay.state == "success" and dep.total_calls() == 2
    assert dep.query("SELECT count(*) FROM ocr.ocr_fields") == fields


def test_a_wrong_secret_fails_at_once_and_records_nothing_as_failed(
    get_dag: Any,
    deployment: Any,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    import json

    dep = deployment()
    dep.put("receipt-ko", at=D1 + timedelta(hours=1))
    monkeypatch.setenv(
        "AIRFLOW_CONN_CLOVA_OCR_DEFAULT",
        json.dumps(
            {
                "conn_type": "clova_ocr",
                "host": dep.server.invoke_url("general"),
                "password": "wrong",
            }
        ),
    )
    dag = get_dag(INGEST)
    ocr = dag.get_task("ocr")
    monkeypatch.setattr(ocr, "retries", 3)  # AirflowFailException must skip them
    monkeypatch.setattr(ocr, "retry_delay", timedelta(0))
    run = run_dag(dag, D1 + DAY)
    assert run.state == "failed"
    assert task_states(run)["ocr[0]"] == "failed"
    assert dep.server.stats()["responses_by_code"] == {"0002": 1}  # one call, no retries
    out, _ = capfd.readouterr()
    assert "CLOVA refused the endpoint configuration" in out and "0002" in out
    # Nothing was recorded (no envelope, no failed object): the object is still to do, and the
    # run after the fix sends it.
    listing = dep.bucket.client.list_objects_v2(Bucket=dep.bucket.name, Prefix="store/raw/")
    assert listing.get("KeyCount", 0) == 0
