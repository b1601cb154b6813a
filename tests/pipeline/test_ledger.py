"""Ledger: atomic claims (threads, processes, stale takeover), envelopes, index, billing."""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from clova_etl.config import StorageConfig
from clova_etl.envelope import CallRecord, RawEnvelope, RequestOptions, SourceInfo
from clova_etl.pipeline.ledger import Ledger
from clova_etl.pipeline.storage import Storage


@pytest.fixture(params=["local", "s3"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    if request.param == "local":
        return Ledger(Storage.local(tmp_path / "store"))
    bucket: Any = request.getfixturevalue("s3_bucket")
    return Ledger(Storage.open(bucket.config("store")))


def envelope(rid: str, status: str = "succeeded", day: int = 3, run: str = "r1") -> RawEnvelope:
    return RawEnvelope(
        request_id=rid,
        source=SourceInfo(uri="s3://b/inbox/a.jpg", sha256="ab" * 32),
        options=RequestOptions(),
        call=CallRecord(
            status=status,  # type: ignore[arg-type]
            completed_at=datetime(2024, 5, day, 23, 59, tzinfo=UTC),
            run_id=run,
        ),
        response={"version": "V2", "images": []} if status == "succeeded" else None,
    )


def test_claim_is_exclusive_until_released(ledger: Ledger) -> None:
    first = ledger.claims.take("rid-1", "run-a", ttl_seconds=60)
    assert first is not None
    assert ledger.claims.take("rid-1", "run-b", ttl_seconds=60) is None
    assert ledger.claims.current("rid-1") == first
    ledger.claims.release(first)
    assert ledger.claims.current("rid-1") is None
    second = ledger.claims.take("rid-1", "run-b", ttl_seconds=60)
    assert second is not None and second.run_id == "run-b"


def test_stale_claim_is_taken_over_once(ledger: Ledger) -> None:
    dead = ledger.claims.take("rid-2", "crashed-run", ttl_seconds=0.01)
    assert dead is not None
    time.sleep(0.05)
    assert dead.expired
    winners: list[Any] = []
    barrier = threading.Barrier(6)

    def take() -> None:
        barrier.wait()
        claim = ledger.claims.take("rid-2", "rescuer", ttl_seconds=60)
        if claim is not None:
            winners.append(claim)

    threads = [threading.Thread(target=take) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert ledger.claims.current("rid-2") == winners[0]
    # The crashed holder's late release does not drop the new owner's claim.
    ledger.claims.release(dead)
    assert ledger.claims.current("rid-2") == winners[0]


def test_threads_racing_for_a_claim(ledger: Ledger) -> None:
    wins = []
    barrier = threading.Barrier(8)

    def race(i: int) -> None:
        barrier.wait()
        if ledger.claims.take("rid-3", f"run-{i}", ttl_seconds=60) is not None:
            wins.append(i)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1


def _claim_in_process(root: str, barrier: Any, out: Any, i: int) -> None:
    ledger = Ledger(Storage.local(root))
    barrier.wait()
    out.put((i, ledger.claims.take("rid-proc", f"worker-{i}", ttl_seconds=60) is not None))


def test_processes_racing_for_a_claim(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_claim_in_process, args=(str(tmp_path), barrier, out, i))
        for i in range(4)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sum(won for _, won in results) == 1


def test_damaged_claim_counts_as_stale(tmp_path: Path) -> None:
    ledger = Ledger(Storage.local(tmp_path))
    ledger.store.write(ledger.claims.key("rid-x"), b"{not json")
    assert ledger.claims.take("rid-x", "run", ttl_seconds=60) is not None


def test_envelopes_layout_and_index(ledger: Ledger) -> None:
    uri = ledger.write_envelope(envelope("rid-a", day=3))
    assert uri == ledger.store.uri_for("raw/rid-a.json")
    assert ledger.has_raw("rid-a")
    ledger.write_envelope(envelope("rid-b", status="rejected", day=4))
    assert not ledger.has_raw("rid-b")  # rejected requests are not "sent"
    assert ledger.envelope_key("rid-b") == "rejected/rid-b.json"
    got = ledger.read_envelope("rid-a")
    assert got is not None and got.call.status == "succeeded"
    assert ledger.request_ids_between(date(2024, 5, 3), date(2024, 5, 3)) == ["rid-a"]
    assert ledger.request_ids_between(date(2024, 5, 1), date(2024, 5, 31)) == ["rid-a", "rid-b"]
    assert ledger.request_ids_between(date(2024, 6, 1), date(2024, 6, 2)) == []
    # A later answer replaces the rejection; a forced re-call keeps the old answer aside.
    ledger.write_envelope(envelope("rid-b", day=5))
    assert ledger.envelope_key("rid-b") == "raw/rid-b.json"
    ledger.write_envelope(envelope("rid-a", day=6, run="r2"), force=True)
    assert len(list(ledger.keys("superseded/rid-a/"))) == 1
    # A rejection never overwrites an answer.
    ledger.write_envelope(envelope("rid-a", status="rejected"))
    again = ledger.read_envelope("rid-a")
    assert again is not None and again.call.run_id == "r2"


def test_envelope_json_shape(tmp_path: Path) -> None:
    ledger = Ledger(Storage.local(tmp_path))
    ledger.write_envelope(envelope("rid-j"))
    doc = orjson.loads((tmp_path / "raw" / "rid-j.json").read_bytes())
    assert next(iter(doc)) == "clova_etl_envelope"
    assert doc["request_id"] == "rid-j" and doc["response"] == {"version": "V2", "images": []}


def test_transient_failures_count_runs(tmp_path: Path) -> None:
    ledger = Ledger(Storage.local(tmp_path))
    assert ledger.record_transient("r", "run-1", "0500", "boom") == 1
    assert ledger.record_transient("r", "run-1", "0500", "boom") == 1
    assert ledger.record_transient("r", "run-2", None, "timeout") == 2
    ledger.clear_transient("r")
    assert ledger.record_transient("r", "run-3", None, "timeout") == 1


def test_object_states_and_terminal_markers(tmp_path: Path) -> None:
    ledger = Ledger(Storage.local(tmp_path))
    state = {"source_uri": "s3://b/k", "version": "v1", "status": "pending"}
    ledger.write_object_states([state])
    assert ledger.terminal_versions() == set()
    ledger.write_object_states([{**state, "status": "loaded"}])
    (marker,) = ledger.terminal_versions()
    assert marker.endswith(".v1")
    assert ledger.object_state("s3://b/k") == {**state, "status": "loaded"}
    ledger.clear_terminal("s3://b/k", "v1")
    assert ledger.terminal_versions() == set()


def test_quota_marker(tmp_path: Path) -> None:
    ledger = Ledger(Storage.local(tmp_path))
    assert not ledger.quota_exhausted("manual__2024-01-01T00:00:00+00:00")
    ledger.mark_quota_exhausted("manual__2024-01-01T00:00:00+00:00", "0023")
    assert ledger.quota_exhausted("manual__2024-01-01T00:00:00+00:00")


def test_conditional_writes_fallback(s3_bucket: Any) -> None:
    # Stores without If-None-Match get the write-then-read-back fallback.
    store = Storage.open(s3_bucket.config("fallback", conditional_writes=False))
    assert store.protocol == "s3" and not store.conditional_writes
    ledger = Ledger(store)
    first = ledger.claims.take("rid-f", "a", ttl_seconds=60)
    assert first is not None
    assert ledger.claims.take("rid-f", "b", ttl_seconds=60) is None


def test_storage_config_round_trip() -> None:
    assert StorageConfig(uri="x").storage_options() == {}
