"""End to end: local bucket → local OCR server → raw store → Parquet → DuckDB.

Zero-extra-call claims are asserted with the server's own counters (``/_stats``).
"""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clova_etl import pipeline
from clova_etl.config import BudgetConfig, LimitsConfig, PipelineConfig, RunConfig
from clova_etl.pipeline import ConfigurationError, run_ingest
from clova_etl.server import RunningServer

from .conftest import jpeg, put
from .helpers import (
    BAD,
    billed_once,
    fill_bad,
    fill_good,
    query,
    race_worker,
    snapshot,
    with_server,
)

StartServer = Callable[..., RunningServer]


@pytest.fixture
def server(start_ocr_server: StartServer) -> RunningServer:
    return start_ocr_server()


def test_ingest_rerun_backfill_and_replay(
    local_config: PipelineConfig, server: RunningServer, sample_docs: dict[str, Path]
) -> None:
    config = with_server(local_config, server)
    config.limits = LimitsConfig(max_object_bytes=1_000_000)
    good = fill_good(config, sample_docs)
    # The same bytes under a second key: the same request, so no second call.
    copy = put(config, "inbox/general/copy.png", sample_docs["receipt-ko"].read_bytes())
    good.append("inbox/general/copy.png")
    fill_bad(config)

    report = run_ingest(config, run_id="run-1")
    assert report.stopped is None and report.complete
    # 3-page PDF and 2-page TIFF are one request each: 5 calls, each billed once.
    stats = server.stats()
    assert stats["total_calls"] == 5 and stats["billable_calls"] == 5
    assert report.totals["succeeded"] == 5 and report.totals["rejected"] == len(BAD)
    assert report.object_status == {"loaded": 6, "rejected": len(BAD)}
    assert copy.exists()

    objects = dict(query(config, "SELECT source_uri, status FROM ocr.etl_objects"))
    assert len(objects) == len(good) + len(BAD)
    for key, code in BAD.items():
        ((status, error_code, message),) = query(
            config,
            "SELECT status, error_code, error_message FROM ocr.etl_objects "
            f"WHERE source_uri LIKE '%/{key}'",
        )
        assert (status, error_code) == ("rejected", code) and message
    # Rejected objects are also ocr_requests rows (status rejected, with the reason).
    rejected = query(
        config,
        "SELECT error_code, count(*) FROM ocr.ocr_requests WHERE status = 'rejected' "
        "GROUP BY ALL ORDER BY ALL",
    )
    assert sum(n for _, n in rejected) == len(BAD)
    pages = query(
        config,
        "SELECT page_start, page_end, pages_returned FROM ocr.ocr_requests "
        "WHERE source_uri LIKE '%.pdf' AND status = 'succeeded'",
    )
    assert pages == [(1, 3, 3)]
    before = snapshot(config)

    # A re-run, and a backfill over every day so far, make no call and change no row.
    again = run_ingest(config, run_id="run-2")
    assert again.discovered == 0
    backfill = run_ingest(config, interval_start="2000-01-01T00:00:00+00:00", run_id="backfill-1")
    assert backfill.discovered == len(good) + len(BAD)
    assert backfill.totals["skipped_existing"] == 5 and backfill.totals["sent"] == 0
    assert server.stats()["total_calls"] == 5
    assert snapshot(config) == before

    # Replay re-flattens and reloads from the raw store: zero calls, identical rows.
    result = pipeline.replay(config, "replay-1", since="2000-01-01", until="2999-12-31")
    assert result["request_ids"] == 5 + len(BAD)
    assert server.stats()["total_calls"] == 5
    assert snapshot(config) == before

    # Replaying into a new, empty warehouse rebuilds every table, etl_objects included.
    config.warehouse.uri = f"duckdb:///{Path(config.store.uri).parent / 'fresh.duckdb'}"
    pipeline.replay(config, "replay-2", since="2000-01-01", until="2999-12-31")
    assert server.stats()["total_calls"] == 5
    assert snapshot(config) == before


def test_quota_mid_run_stops_cleanly_and_resumes(
    local_config: PipelineConfig, start_ocr_server: StartServer, sample_docs: dict[str, Path]
) -> None:
    server = start_ocr_server(quota=2)
    config = with_server(local_config, server, concurrency=1)
    config.run = RunConfig(batch_size=2)
    fill_good(config, sample_docs)

    first = run_ingest(config, run_id="q-1")
    assert first.stopped == "quota" and first.message and "0023" in first.message
    assert first.totals["succeeded"] == 2
    assert first.object_status["loaded"] == 2 and first.object_status["pending"] == 3
    assert len(first.pending_request_ids) == 3
    stats = server.stats()
    assert stats["billable_calls"] == 2
    # Only the call that met the exhausted quota was refused; nothing after it was sent.
    assert stats["total_calls"] == 3
    pending = query(config, "SELECT count(*) FROM ocr.etl_objects WHERE status = 'pending'")
    assert pending == [(3,)]

    # Each new quota period (2 calls) lets the next run finish more of what is pending.
    server.reset_stats()
    second = run_ingest(config, run_id="q-2")
    assert second.stopped == "quota" and second.totals["succeeded"] == 2
    assert second.object_status == {"loaded": 2, "pending": 1}
    server.reset_stats()
    third = run_ingest(config, run_id="q-3")
    assert third.complete and third.totals["succeeded"] == 1
    assert query(config, "SELECT DISTINCT status FROM ocr.etl_objects") == [("loaded",)]
    assert query(config, "SELECT count(*) FROM ocr.ocr_requests WHERE status = 'succeeded'") == [
        (5,)
    ]


def test_two_workers_racing_make_one_call_each(
    local_config: PipelineConfig, start_ocr_server: StartServer, sample_docs: dict[str, Path]
) -> None:
    server = start_ocr_server(latency_ms=300)
    config = with_server(local_config, server)
    fill_good(config, sample_docs)
    plan = pipeline.plan(config, pipeline.discover(config, None, None, "race"), "race")
    (batch,) = plan["batches"]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        public = config.public_dict()
        results = pool.starmap(
            race_worker,
            [(public, server.secret, batch, "race-a"), (public, server.secret, batch, "race-b")],
        )
    stats = server.stats()
    assert stats["total_calls"] == 5
    assert all(n == 1 for n in stats["calls_by_request_id"].values())
    assert sum(r["succeeded"] for r in results) == 5
    assert sum(r["skipped_claimed"] + r["skipped_existing"] for r in results) == 5


def test_dry_run_then_budget(
    local_config: PipelineConfig, server: RunningServer, sample_docs: dict[str, Path]
) -> None:
    config = with_server(local_config, server)
    fill_good(config, sample_docs)
    store = Path(config.store.uri)

    dry = run_ingest(config, dry_run=True, run_id="dry")
    assert dry.estimate["to_send_calls"] == 5 and dry.estimate["to_send_pages"] == 8
    assert dry.estimate["by_route"]["template"] == {"calls": 1, "pages": 1}
    assert server.stats()["total_calls"] == 0
    assert not (store / "raw").exists() and not (store / "claims").exists()

    config.budget = BudgetConfig(max_calls_per_run=2)
    capped = run_ingest(config, run_id="budget-1")
    assert capped.stopped == "budget" and "max_calls_per_run=2" in (capped.message or "")
    assert server.stats()["billable_calls"] == 2
    assert capped.object_status["pending"] == 3
    # The budget is per run: a retried task of the same run gets nothing more.
    retry = run_ingest(config, run_id="budget-1")
    assert retry.totals["sent"] == 0 and retry.stopped == "budget"
    assert server.stats()["total_calls"] == 2

    config.budget = BudgetConfig()
    rest = run_ingest(config, run_id="budget-2")
    assert rest.complete and server.stats()["billable_calls"] == 5
    assert billed_once(server.stats())


def test_backfill_budget_scope_spans_runs(
    local_config: PipelineConfig, server: RunningServer
) -> None:
    import os

    config = with_server(local_config, server)
    config.budget = BudgetConfig(scope="backfill-may", max_calls_per_scope=3)
    days = ["2024-05-01", "2024-05-02"]
    for d, day in enumerate(days):
        for i in range(2):
            # Four distinct images (a seed from hash() may repeat: its strings are salted per
            # process, and two equal images would be one request).
            path = put(config, f"inbox/general/{day}-{i}.jpg", jpeg(seed=10 * d + i))
            ts = __import__("datetime").datetime.fromisoformat(f"{day}T12:00:00+00:00").timestamp()
            os.utime(path, (ts, ts))
    price = run_ingest(
        config,
        interval_start="2024-05-01T00:00:00+00:00",
        interval_end="2024-05-03T00:00:00+00:00",
        dry_run=True,
    )
    assert price.estimate["to_send_calls"] == 4 and price.estimate["budget_allows_calls"] == 3
    one = run_ingest(
        config,
        interval_start="2024-05-01T00:00:00+00:00",
        interval_end="2024-05-02T00:00:00+00:00",
        run_id="bf-d1",
    )
    two = run_ingest(
        config,
        interval_start="2024-05-02T00:00:00+00:00",
        interval_end="2024-05-03T00:00:00+00:00",
        run_id="bf-d2",
    )
    assert one.totals["sent"] == 2 and one.stopped is None
    assert two.totals["sent"] == 1 and two.stopped == "budget"
    assert server.stats()["billable_calls"] == 3


def test_force_reocr_once_per_run(
    local_config: PipelineConfig, server: RunningServer, sample_docs: dict[str, Path]
) -> None:
    config = with_server(local_config, server)
    fill_good(config, sample_docs)
    run_ingest(config, run_id="first")
    assert server.stats()["total_calls"] == 5
    key = "inbox/general/receipts/receipt-ko.png"
    forced = run_ingest(config, force=[key], run_id="force-1")
    assert forced.totals["succeeded"] == 1
    assert server.stats()["total_calls"] == 6
    # A retried force task of the same run does not pay again; the old answer is kept aside.
    run_ingest(config, force=[key], run_id="force-1")
    assert server.stats()["total_calls"] == 6
    assert len(list((Path(config.store.uri) / "superseded").rglob("*.json"))) == 1
    ((run_id,),) = query(
        config, f"SELECT run_id FROM ocr.ocr_requests WHERE source_uri LIKE '%/{key}'"
    )
    assert run_id == "force-1"


def test_transient_failures_retry_next_run_then_fail(
    local_config: PipelineConfig, start_ocr_server: StartServer
) -> None:
    server = start_ocr_server(fail_rate=1.0)
    config = with_server(local_config, server, max_retries=0)
    config.run = RunConfig(max_transient_failures=2)
    put(config, "inbox/general/a.jpg", jpeg(seed=3))
    first = run_ingest(config, run_id="t-1")
    assert first.totals["transient"] == 1 and first.object_status == {"pending": 1}
    second = run_ingest(config, run_id="t-2")
    assert second.object_status == {"failed": 1}
    ((status, code, message),) = query(
        config, "SELECT status, error_code, error_message FROM ocr.ocr_requests"
    )
    assert status == "failed" and code in ("0500", "0501") and "2 runs" in message
    assert query(config, "SELECT status FROM ocr.etl_objects") == [("failed",)]
    assert run_ingest(config, run_id="t-3").discovered == 0
    assert server.stats()["total_calls"] == 2


def test_api_rejection_is_recorded_and_not_resent(
    local_config: PipelineConfig, server: RunningServer, sample_docs: dict[str, Path]
) -> None:
    config = with_server(local_config, server)
    target = Path(config.source.uri) / "inbox/template/9999/form.png"
    target.parent.mkdir(parents=True)
    target.write_bytes(sample_docs["claim-form"].read_bytes())
    put(config, "inbox/general/ok.jpg", jpeg(seed=4))
    report = run_ingest(config, run_id="api-1")
    assert report.object_status == {"failed": 1, "loaded": 1}
    ((code, message),) = query(
        config,
        "SELECT error_code, error_message FROM ocr.ocr_requests WHERE status = 'failed'",
    )
    assert code == "1021" and message
    run_ingest(config, interval_start="2000-01-01T00:00:00+00:00", run_id="api-2")
    assert server.stats()["total_calls"] == 2


def test_wrong_secret_fails_the_run_without_recording_failures(
    local_config: PipelineConfig, server: RunningServer
) -> None:
    config = with_server(local_config, server, secret="not-the-secret")
    put(config, "inbox/general/a.jpg", jpeg(seed=5))
    with pytest.raises(ConfigurationError, match="secret"):
        run_ingest(config, run_id="bad-secret")
    store = Path(config.store.uri)
    assert not (store / "raw").exists() and not list((store / "claims").glob("*.json"))
    fixed = run_ingest(with_server(local_config, server), run_id="good-secret")
    assert fixed.object_status == {"loaded": 1}


def test_secrets_never_written(
    local_config: PipelineConfig,
    start_ocr_server: StartServer,
    sample_docs: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "sk-very-secret-value-4711"
    server = start_ocr_server(secret=secret)
    config = with_server(local_config, server)
    fill_good(config, sample_docs)
    caplog.set_level(logging.DEBUG)
    run_ingest(config, run_id="secret-run")
    run_ingest(with_server(local_config, server, secret="wrong-" + secret[:4]), dry_run=True)
    found = [
        p
        for root in (Path(config.store.uri), Path(local_config.warehouse.uri[10:]).parent)
        for p in root.rglob("*")
        if p.is_file() and secret.encode() in p.read_bytes()
    ]
    assert found == []
    assert secret not in caplog.text
    assert len(list(Path(config.store.uri).rglob("*.parquet"))) > 0


def test_s3_source_and_store(
    s3_bucket: Any, server: RunningServer, sample_docs: dict[str, Path], tmp_path: Path
) -> None:
    from clova_etl.config import SourceConfig, StoreConfig, WarehouseConfig

    source = s3_bucket.config("")
    store = s3_bucket.config("clova-store")
    config = with_server(
        PipelineConfig(
            source=SourceConfig(**source.model_dump()),
            store=StoreConfig(**store.model_dump()),
            warehouse=WarehouseConfig(uri=f"duckdb:///{tmp_path / 'wh.duckdb'}"),
        ),
        server,
    )
    s3_bucket.put("inbox/general/스캔 1.png", sample_docs["receipt-ko"].read_bytes())
    s3_bucket.put("inbox/general/long doc.pdf", sample_docs["contract-3p"].read_bytes())
    s3_bucket.put("inbox/general/empty.jpg", b"")
    report = run_ingest(config, run_id="s3-1")
    assert report.object_status == {"loaded": 2, "rejected": 1}
    assert server.stats()["total_calls"] == 2
    keys = {o["Key"] for o in s3_bucket.client.list_objects_v2(Bucket=s3_bucket.name)["Contents"]}
    assert any(k.startswith("clova-store/raw/") for k in keys)
    assert any(k.startswith("clova-store/parquet/") for k in keys)
    assert not any(k.startswith("clova-store/claims/") for k in keys)
    before = snapshot(config)
    run_ingest(config, interval_start="2000-01-01T00:00:00+00:00", run_id="s3-2")
    pipeline.replay(config, "s3-replay", since="2000-01-01", until="2999-12-31")
    assert server.stats()["total_calls"] == 2
    assert snapshot(config) == before


def test_an_unreadable_answer_is_kept_as_received_and_never_sent_again(
    local_config: PipelineConfig, start_ocr_server: StartServer
) -> None:
    from clova_etl.pipeline import open_ledger
    from clova_etl.pipeline.ledger.charges import summarize

    server = start_ocr_server(malformed_rate=1.0)
    config = with_server(local_config, server)
    put(config, "inbox/general/a.jpg", jpeg(seed=6))
    report = run_ingest(config, run_id="m-1")
    assert report.object_status == {"failed": 1}
    ((rid, status, code),) = query(
        config, "SELECT request_id, status, error_code FROM ocr.ocr_requests"
    )
    assert (status, code) == ("failed", "unreadable_answer")
    assert server.stats()["total_calls"] == 1  # billed: not re-sent automatically
    ledger = open_ledger(config)
    env = ledger.read_envelope(rid)
    assert env is not None and env.call.answer_uri is not None
    kept = ledger.store.read(ledger.store.key_for(env.call.answer_uri))
    assert kept.startswith(b'{"version":"V2"') and not kept.endswith(b"}")  # cut mid-document
    bill = summarize(ledger.charges.records(), ledger.claims)["totals"]
    assert (bill["calls"], bill["possibly_billed_calls"]) == (1, 1)
    assert bill["calls"] == server.stats()["billable_calls"]

    run_ingest(config, interval_start="2000-01-01T00:00:00+00:00", run_id="m-2")
    assert server.stats()["total_calls"] == 1


def test_unreadable_answers_are_re_sent_once_by_policy_and_counted(
    local_config: PipelineConfig, start_ocr_server: StartServer
) -> None:
    from clova_etl.pipeline import open_ledger
    from clova_etl.pipeline.ledger.charges import summarize

    server = start_ocr_server(malformed_rate=1.0)
    config = with_server(local_config, server, resend_unreadable=True)
    put(config, "inbox/general/a.jpg", jpeg(seed=6))
    run_ingest(config, run_id="m-1")
    assert server.stats()["total_calls"] == 2
    ledger = open_ledger(config)
    bill = summarize(ledger.charges.records(), ledger.claims)["totals"]
    assert (bill["calls"], bill["possibly_billed_calls"], bill["resent_calls"]) == (2, 2, 1)
    assert bill["calls"] == server.stats()["billable_calls"]


def test_plan_cache_reused_until_settings_change(
    local_config: PipelineConfig, sample_docs: dict[str, Path]
) -> None:
    from clova_etl.config import RouteRule

    config = local_config
    fill_good(config, sample_docs)
    found = pipeline.discover(config, None, None, "p")
    first = pipeline.plan(config, found, "p-1")
    cache = Path(config.store.uri) / "plans"
    assert len(list(cache.iterdir())) == 5
    assert pipeline.plan(config, found, "p-2")["batches"] == first["batches"]
    assert len(list(cache.iterdir())) == 5
    config.routes = [RouteRule(name="all", pattern="inbox/**", lang="ko")]
    other = pipeline.plan(config, found, "p-3")
    assert len(list(cache.iterdir())) == 10
    ids = {r["request_id"] for b in other["batches"] for r in b}
    assert ids.isdisjoint({r["request_id"] for b in first["batches"] for r in b})


def test_forked_planners_plan_as_this_process_does(
    local_config: PipelineConfig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import importlib

    # (``clova_etl.pipeline.plan`` the attribute is the function; the module is this.)
    plan_module = importlib.import_module("clova_etl.pipeline.plan")
    config = local_config
    for i in range(70):  # over the threshold for worker processes
        put(config, f"inbox/general/doc-{i:03d}.jpg", jpeg(seed=i))
    put(config, "inbox/general/cut.jpg", jpeg()[:300])  # a rejection travels back too
    found = pipeline.discover(config, None, None, "f")

    def plans(forked: bool) -> list[Any]:
        shutil.rmtree(Path(config.store.uri) / "plans", ignore_errors=True)
        monkeypatch.setattr(plan_module, "_may_fork", lambda objects: forked)
        monkeypatch.setattr(plan_module, "_PLAN_PROCESSES", 2)
        return [o.to_dict() if o else None for o in plan_module._plan_all(config, found)]

    in_process, forked = plans(False), plans(True)
    assert "no worker processes" not in caplog.text  # the pool ran, it did not fall back
    assert forked == in_process
    assert sum(1 for o in forked if o and o["error_code"] == "unreadable") == 1
    # And where forking is unsafe (other threads running), this process plans.
    monkeypatch.undo()
    stop = threading.Event()
    busy = threading.Thread(target=stop.wait)
    busy.start()
    try:
        assert not plan_module._may_fork(1000)
    finally:
        stop.set()
        busy.join()


def test_throttling_is_absorbed(
    local_config: PipelineConfig, start_ocr_server: StartServer, sample_docs: dict[str, Path]
) -> None:
    # One call per second, burst 1: of the four requests sent at once, all but the first are
    # throttled unless they reach the server a second apart (3 s, even on a loaded machine).
    # The retries (backoff with jitter, 11 attempts) outlast the queue of five at 1/s.
    server = start_ocr_server(rate_limit=1.0)
    config = with_server(local_config, server, concurrency=4, max_retries=10)
    fill_good(config, sample_docs)
    report = run_ingest(config, run_id="throttled")
    assert report.complete and report.totals["succeeded"] == 5
    stats = server.stats()
    assert stats["responses_by_code"].get("0025", 0) >= 1  # it did throttle us
    assert stats["billable_calls"] == 5 and billed_once(stats)


def test_replay_by_request_ids_only(
    local_config: PipelineConfig, server: RunningServer, sample_docs: dict[str, Path]
) -> None:
    config = with_server(local_config, server)
    fill_good(config, sample_docs)
    run_ingest(config, run_id="r-1")
    before = snapshot(config)
    ((rid,),) = query(
        config, "SELECT request_id FROM ocr.ocr_requests WHERE source_uri LIKE '%.tiff'"
    )
    result = pipeline.replay(config, "r-replay", request_ids=[rid, "no-such-request"])
    assert result["flatten"]["documents"] == 1
    assert result["flatten"]["missing_request_ids"] == ["no-such-request"]
    assert server.stats()["total_calls"] == 5
    assert snapshot(config) == before


def test_task_retry_and_crashed_worker_claims(
    local_config: PipelineConfig, server: RunningServer, sample_docs: dict[str, Path]
) -> None:
    config = with_server(local_config, server)
    fill_good(config, sample_docs)
    plan = pipeline.plan(config, pipeline.discover(config, None, None, "c"), "c")
    (batch,) = plan["batches"]
    # A worker died holding the claim of the first request (for an hour: it outlives the
    # batches below however slow the machine; the test ends it below instead of waiting).
    ledger = pipeline.open_ledger(config)
    dead = ledger.claims.take(batch[0]["request_id"], "crashed", ttl_seconds=3600.0)
    assert dead is not None
    first = pipeline.ocr_batch(config, batch, "c")
    assert first["skipped_claimed"] == 1 and first["succeeded"] == 4
    assert first["pending_ids"] == [batch[0]["request_id"]]
    # Pending, with who holds it and until when.
    reason = first["pending_reasons"][batch[0]["request_id"]]
    assert "run crashed" in reason and dead.expires_at in reason
    # The task is retried at once: the live claim is respected, the answers are not re-bought.
    retry = pipeline.ocr_batch(config, batch, "c")
    assert retry["sent"] == 0 and retry["skipped_existing"] == 4
    assert server.stats()["total_calls"] == 4
    # Once the dead claim expires, the next attempt takes it over and makes the one call left.
    # (Its time to live runs out now: renewed to a second ago, as if the hour had passed.)
    expired = ledger.claims.renew(dead, ttl_seconds=-1.0)
    assert expired is not None and expired.expired
    last = pipeline.ocr_batch(config, batch, "c")
    assert last["succeeded"] == 1 and last["pending_ids"] == []
    assert server.stats()["total_calls"] == 5 and billed_once(server.stats())
