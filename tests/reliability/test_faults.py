"""Faults of the OCR endpoint during a run: each document still ends loaded or recorded.

The local server injects each fault (seeded, so every run of the test meets the same ones).
The pipeline is run until it reports nothing pending (a scheduler's next runs), bounded; then
every object is ``loaded`` or ``failed``/``rejected`` with its reason, the warehouse holds
exactly what the raw store holds (nothing half-loaded), and the server's own counters show what
was paid for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clova_etl.config import (
    OCRConfig,
    PipelineConfig,
    RunConfig,
    SourceConfig,
    StoreConfig,
    WarehouseConfig,
)
from clova_etl.pipeline import IngestReport, run_ingest
from clova_etl.server import RunningServer

from .helpers import assert_whole, copies, fill, objects

N_DOCS = 12
StartServer = Callable[..., RunningServer]


def _config(tmp_path: Path, server: RunningServer, **ocr: Any) -> PipelineConfig:
    return PipelineConfig(
        source=SourceConfig(uri=str(tmp_path / "bucket")),
        store=StoreConfig(uri=str(tmp_path / "store")),
        warehouse=WarehouseConfig(uri=f"duckdb:///{tmp_path / 'wh.duckdb'}"),
        ocr=OCRConfig(
            invoke_url=server.invoke_url("general"),
            secret=server.secret,
            **{"concurrency": 4, "max_retries": 3, **ocr},
        ),
        run=RunConfig(batch_size=4, max_transient_failures=3),
    )


def _docs(tmp_path: Path, sample_docs: dict[str, Path], tag: str) -> dict[str, bytes]:
    sample = sample_docs["receipt-ko"].read_bytes()
    docs = {
        f"inbox/general/{tag}-{i:02d}.png": d for i, d in enumerate(copies(sample, N_DOCS, tag))
    }
    fill(tmp_path / "bucket", docs)
    return docs


def _until_done(config: PipelineConfig, runs: int = 4) -> list[IngestReport]:
    """Run like a scheduler would, until nothing is pending (at most ``runs`` runs)."""
    reports = []
    for n in range(runs):
        report = run_ingest(config, run_id=f"run-{n}")
        reports.append(report)
        if report.complete:
            break
    return reports


def _ended(config: PipelineConfig) -> dict[str, tuple[str, str | None, str | None]]:
    """Every object's end state; asserts each is terminal and a failure has its reason."""
    ends = objects(config.warehouse.uri)
    for key, (status, code, message) in ends.items():
        assert status in ("loaded", "failed", "rejected"), (key, status)
        if status != "loaded":
            assert code and message, key
    return ends


@pytest.mark.parametrize(
    ("server_faults", "ocr"),
    [
        pytest.param({"fail_rate": 0.2, "seed": 7}, {}, id="20pct-0500-0501"),
        # The server takes 2 requests/s (burst 2), the client is configured for 20: a batch's
        # four calls start 50 ms apart and are throttled unless they reach the server 0.5 s
        # apart (a burst of 4 let every batch through when its bucket refilled between batches).
        pytest.param(
            {"rate_limit": 2.0, "seed": 7}, {"rate_limit_per_second": 20.0}, id="throttled-0025"
        ),
    ],
)
def test_retryable_faults_end_with_every_document_loaded_and_paid_once(
    tmp_path: Path,
    start_ocr_server: StartServer,
    sample_docs: dict[str, Path],
    server_faults: dict[str, Any],
    ocr: dict[str, Any],
) -> None:
    server = start_ocr_server(**server_faults)
    config = _config(tmp_path, server, **ocr)
    docs = _docs(tmp_path, sample_docs, "retryable")
    reports = _until_done(config)
    assert reports[-1].complete, [r.render() for r in reports]
    stats = server.stats()
    injected = {c: n for c, n in stats["responses_by_code"].items() if c != "200"}
    assert injected, "the fault never happened"
    assert set(injected) <= {"0500", "0501", "0025"}
    assert _ended(config) == {k: ("loaded", None, None) for k in docs}
    assert set(assert_whole(config.warehouse.uri, tmp_path / "store").values()) == {"succeeded"}
    # A 0500/0501/0025 answer is not billed, and each document was bought once.
    assert stats["billable_calls"] == N_DOCS
    assert set(stats["billable_by_request_id"].values()) == {1}


def test_dropped_connections_are_retried_and_end_loaded(
    tmp_path: Path, start_ocr_server: StartServer, sample_docs: dict[str, Path]
) -> None:
    server = start_ocr_server(drop_rate=0.25, seed=3)
    config = _config(tmp_path, server)
    docs = _docs(tmp_path, sample_docs, "dropped")
    reports = _until_done(config)
    assert reports[-1].complete
    stats = server.stats()
    assert stats["dropped_connections"] > 0
    assert _ended(config) == {k: ("loaded", None, None) for k in docs}
    assert set(assert_whole(config.warehouse.uri, tmp_path / "store").values()) == {"succeeded"}
    # The server bills an answer it then drops (the worst case: the client cannot know). Each
    # extra billable call is one that was dropped; none comes from a stored answer re-sent.
    assert stats["billable_calls"] == N_DOCS + stats["dropped_connections"]
    assert len(stats["billable_by_request_id"]) == N_DOCS


def test_malformed_bodies_end_failed_with_their_reason_and_are_not_rebought(
    tmp_path: Path, start_ocr_server: StartServer, sample_docs: dict[str, Path]
) -> None:
    server = start_ocr_server(malformed_rate=0.3, seed=5)
    config = _config(tmp_path, server)
    docs = _docs(tmp_path, sample_docs, "malformed")
    reports = _until_done(config)
    assert reports[-1].complete and len(reports) == 1
    ends = _ended(config)
    assert set(ends) == set(docs)
    failed = {k for k, (s, _, _) in ends.items() if s == "failed"}
    assert failed and len(failed) < N_DOCS, ends
    statuses = assert_whole(config.warehouse.uri, tmp_path / "store")
    assert sorted(statuses.values()) == sorted(
        "failed" if k in failed else "succeeded" for k in docs
    )
    # One bounded retry of a malformed 200, then recorded: never more than two calls each,
    # and a later backfill over the same objects buys nothing.
    calls = server.stats()["total_calls"]
    assert set(server.stats()["calls_by_request_id"].values()) <= {1, 2}
    again = run_ingest(config, interval_start="2000-01-01T00:00:00+00:00", run_id="backfill")
    assert again.totals["sent"] == 0 and server.stats()["total_calls"] == calls


def test_quota_mid_run_leaves_the_rest_pending_then_the_next_period_finishes(
    tmp_path: Path, start_ocr_server: StartServer, sample_docs: dict[str, Path]
) -> None:
    server = start_ocr_server(quota=5)
    config = _config(tmp_path, server, concurrency=2)
    docs = _docs(tmp_path, sample_docs, "quota")
    first = run_ingest(config, run_id="q-1")
    assert first.stopped == "quota" and first.message and "0023" in first.message
    # Each document is either loaded or recorded as pending (never missing, never failed).
    ends = objects(config.warehouse.uri)
    assert set(ends) == set(docs)
    assert {s for s, _, _ in ends.values()} == {"loaded", "pending"}
    assert sum(s == "loaded" for s, _, _ in ends.values()) == 5
    assert_whole(config.warehouse.uri, tmp_path / "store")
    assert server.stats()["billable_calls"] == 5

    # Each new quota period (reset_stats refills it) lets the next run finish more.
    billed = dict(server.stats()["billable_by_request_id"])
    for n in range(2):
        server.reset_stats()
        report = run_ingest(config, run_id=f"q-{n + 2}")
        for rid, count in server.stats()["billable_by_request_id"].items():
            billed[rid] = billed.get(rid, 0) + count
    assert report.complete, report.render()
    assert _ended(config) == {k: ("loaded", None, None) for k in docs}
    assert set(assert_whole(config.warehouse.uri, tmp_path / "store").values()) == {"succeeded"}
    assert len(billed) == N_DOCS and set(billed.values()) == {1}


def test_every_fault_at_once(
    tmp_path: Path, start_ocr_server: StartServer, sample_docs: dict[str, Path]
) -> None:
    server = start_ocr_server(
        fail_rate=0.15, drop_rate=0.1, malformed_rate=0.1, rate_limit=6.0, seed=11
    )
    config = _config(tmp_path, server, rate_limit_per_second=12.0)
    docs = _docs(tmp_path, sample_docs, "mixed")
    reports = _until_done(config, runs=4)
    assert reports[-1].complete, [r.render() for r in reports]
    ends = _ended(config)
    assert set(ends) == set(docs)
    assert "loaded" in {s for s, _, _ in ends.values()}
    assert_whole(config.warehouse.uri, tmp_path / "store")
    # Nothing left to do: a further run sends nothing.
    again = run_ingest(config, interval_start="2000-01-01T00:00:00+00:00", run_id="after")
    assert again.totals["sent"] == 0
