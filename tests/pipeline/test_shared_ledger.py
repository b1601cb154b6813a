"""The ledger's shared guarantees, held by several processes at once: budgets, the rate limit,
claims that live as long as their worker, and the bill of charges."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clova_etl.config import BudgetConfig, StorageConfig
from clova_etl.pipeline.ledger import ClaimKeeper, Ledger
from clova_etl.pipeline.ledger.budgets import Budgets
from clova_etl.pipeline.ledger.charges import summarize
from clova_etl.pipeline.ledger.limits import SharedRateLimit
from clova_etl.pipeline.ledger.store import read_record
from clova_etl.pipeline.planner import PlannedRequest
from clova_etl.pipeline.storage import Storage

_SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture(params=["local", "s3"])
def store_config(request: pytest.FixtureRequest, tmp_path: Path) -> StorageConfig:
    if request.param == "local":
        return StorageConfig(uri=str(tmp_path / "store"))
    bucket: Any = request.getfixturevalue("s3_bucket")
    config: StorageConfig = bucket.config("store")
    return config


def _request(rid: str, pages: int = 1) -> PlannedRequest:
    return PlannedRequest.from_dict(
        {
            "request_id": rid,
            "key": f"inbox/{rid}.png",
            "uri": f"file:///bucket/inbox/{rid}.png",
            "sha256": "00" * 32,
            "api": "general",
            "route": "general",
            "pages": pages,
            "size_bytes": 100,
            "format": "png",
            "last_modified": None,
            "version": "V2",
            "lang": None,
            "template_ids": None,
            "enable_table_detection": False,
            "page_start": None,
            "page_end": None,
        }
    )


def _reserve_worker(config: dict[str, Any], budget: dict[str, Any], worker: int, out: Any) -> None:
    budgets = Budgets(Storage.open(StorageConfig(**config)), BudgetConfig(**budget))
    got = 0
    for chunk in range(5):
        reqs = [_request(f"w{worker}-c{chunk}-{i}") for i in range(4)]
        allowed, _ = budgets.reserve("run-1", reqs)
        got += len(allowed)
    out.put(got)


def test_four_processes_reserve_exactly_the_run_budget(store_config: StorageConfig) -> None:
    budget = {"max_calls_per_run": 20}
    out = _SPAWN.Queue()
    procs = [
        _SPAWN.Process(
            target=_reserve_worker,
            args=(store_config.model_dump(mode="json"), budget, w, out),
        )
        for w in range(4)
    ]
    for p in procs:
        p.start()
    got = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    # 80 requests asked for, in chunks of 4, by 4 processes at once: exactly 20 granted.
    assert sum(got) == 20
    budgets = Budgets(Storage.open(store_config), BudgetConfig(**budget))
    run, scope = budgets.spent("run-1")
    assert (run.calls, scope.calls) == (20, 20)


def test_scope_budget_spans_runs_and_unspent_units_come_back(tmp_path: Path) -> None:
    store = Storage.local(tmp_path)
    budgets = Budgets(store, BudgetConfig(scope="backfill-1", max_pages_per_scope=10))
    allowed, message = budgets.reserve("a", [_request("r1", 4), _request("r2", 4)])
    assert len(allowed) == 2 and message is None
    allowed, message = budgets.reserve("b", [_request("r3", 4)])
    assert allowed == [] and message is not None and "max_pages_per_scope=10" in message
    budgets.release("a", 1, 4)  # r2 was answered with an error the service does not bill
    allowed, _ = budgets.reserve("b", [_request("r3", 4)])
    assert [r.request_id for r in allowed] == ["r3"]
    run_a, scope = budgets.spent("a")
    assert (run_a.pages, scope.pages) == (4, 8)


def _rate_worker(config: dict[str, Any], n: int, burst: int, out: Any) -> None:
    store = Storage.open(StorageConfig(**config))
    limit = SharedRateLimit(store, "http://ocr.example/x", 20.0, burst=burst)
    starts = []
    for _ in range(n):
        # The scheduled start, not the wake-up: a loaded machine's late wake-up would move a
        # start into the next window without the schedule having granted one too many.
        start = limit.take()
        time.sleep(max(0.0, start - time.time()))
        starts.append(start)
    out.put(starts)


@pytest.mark.parametrize("burst", [1, 5])
def test_the_rate_limit_is_the_total_of_every_process(tmp_path: Path, burst: int) -> None:
    config = StorageConfig(uri=str(tmp_path / "store")).model_dump(mode="json")
    out = _SPAWN.Queue()
    procs = [_SPAWN.Process(target=_rate_worker, args=(config, 10, burst, out)) for _ in range(3)]
    for p in procs:
        p.start()
    starts = sorted(t for _ in procs for t in out.get(timeout=120))
    for p in procs:
        p.join(timeout=60)
    assert len(starts) == 30
    # 20 per second in all, plus the burst: no one-second window holds more than 20 + burst
    # starts (+1 for its edge), and the 30 starts take at least (30 - burst) / 20 seconds.
    for i, t in enumerate(starts):
        assert sum(1 for u in starts[i:] if u < t + 1.0) <= 20 + burst
    assert starts[-1] - starts[0] >= (30 - burst) / 20 - 0.05


def test_a_stalled_caller_catches_up_within_the_burst(tmp_path: Path) -> None:
    # The schedule's arithmetic on a clock the test moves: a loaded machine's slow store
    # writes must not shift the expected waits (the real-clock test is the one above).
    now = [1000.0]
    limit = SharedRateLimit(
        Storage.local(tmp_path / "store"),
        "http://ocr.example/x",
        20.0,
        burst=4,
        clock=lambda: now[0],
    )
    waits = [limit.reserve() for _ in range(6)]
    # Four start at once, then one every 1/20 s.
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.0, 0.05, 0.1])
    now[0] += 0.5  # a stall: the schedule fell behind
    assert [limit.reserve() for _ in range(4)] == [0.0] * 4  # made up at once, up to the burst
    assert limit.reserve() == pytest.approx(0.05)
    now[0] += 0.01  # a caller that came back early waits only for what is left
    assert limit.reserve() == pytest.approx(0.09)


def test_a_process_takes_as_many_starts_at_once_as_it_has_callers_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    store = Storage.local(tmp_path / "store")
    swaps: list[str] = []  # the record's compare-and-swaps (the first one creates it)
    for name in ("create", "replace_if"):
        write = getattr(store, name)
        monkeypatch.setattr(
            store, name, lambda *a, _write=write, **k: swaps.append(a[0]) or _write(*a, **k)
        )
    limit = SharedRateLimit(store, "http://ocr.example/x", 20.0, burst=4, clock=lambda: now[0])
    other = SharedRateLimit(store, "http://ocr.example/x", 20.0, burst=4, clock=lambda: now[0])
    got: list[float] = []
    callers = [threading.Thread(target=lambda: got.append(limit.take())) for _ in range(4)]
    with limit._turn:  # the four callers queue up behind one that holds the turn
        for caller in callers:
            caller.start()
        deadline = time.monotonic() + 30
        while limit._waiting < 4:
            assert time.monotonic() < deadline, "the callers never queued"
            time.sleep(0.01)
    for caller in callers:
        caller.join(timeout=30)
    # One compare-and-swap took the four starts: the record is past them all.
    assert got == [1000.0] * 4 and len(swaps) == 1
    assert read_record(store, limit.key) == {"next": pytest.approx(1000.2), "rate": 20.0}
    # A lone caller takes one start, no more: another process's share is not wasted.
    assert other.take() == pytest.approx(1000.05) and len(swaps) == 2
    assert read_record(store, limit.key) == {"next": pytest.approx(1000.25), "rate": 20.0}
    assert limit.take() == pytest.approx(1000.1) and len(swaps) == 3
    assert read_record(store, limit.key) == {"next": pytest.approx(1000.3), "rate": 20.0}


TTL = 6.0  # renewed every 1.5 s: room for a loaded machine's scheduling delays


def _hold_claim(config: dict[str, Any], ready: Any) -> None:
    ledger = Ledger(Storage.open(StorageConfig(**config)))
    claim = ledger.claims.take("rid-1", "run-1", ttl_seconds=TTL)
    assert claim is not None
    with ClaimKeeper(ledger.claims, TTL) as keeper:
        keeper.hold([claim])
        ready.set()
        time.sleep(120)


def test_a_claim_lives_as_long_as_its_worker(tmp_path: Path) -> None:
    config = StorageConfig(uri=str(tmp_path / "store")).model_dump(mode="json")
    ledger = Ledger(Storage.open(StorageConfig(**config)))
    ready = _SPAWN.Event()
    worker = _SPAWN.Process(target=_hold_claim, args=(config, ready))
    worker.start()
    try:
        assert ready.wait(60)
        # Alive: renewed, so nobody takes it over long past its time to live.
        time.sleep(TTL + 2.0)
        assert ledger.claims.take("rid-1", "rescuer", ttl_seconds=60) is None
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        died = datetime.now(UTC)
        worker.join(timeout=10)
        left = ledger.claims.current("rid-1")
        taken = None
        deadline = time.monotonic() + TTL + 60
        while taken is None and time.monotonic() < deadline:
            taken = ledger.claims.take("rid-1", "rescuer", ttl_seconds=60)
            time.sleep(0.1)
    finally:
        if worker.is_alive():
            worker.kill()
    # Dead: the claim it left expires within its time to live (read from the claim, not from
    # how fast a loaded machine polls), and the takeover names what it replaced.
    assert left is not None and left.run_id == "run-1"
    assert datetime.fromisoformat(left.expires_at) <= died + timedelta(seconds=TTL)
    assert taken is not None and taken.replaced == left.token
    assert taken.replaced_run == "run-1"


def test_the_bill_splits_answered_possibly_billed_in_flight_and_re_sent(tmp_path: Path) -> None:
    ledger = Ledger(Storage.local(tmp_path))
    live = ledger.claims.take("r-live", "run-1", ttl_seconds=60)
    dead = ledger.claims.take("r-dead", "run-1", ttl_seconds=0.01)
    assert live is not None and dead is not None

    def reserve(rid: str, claim: str | None, *, run: str = "run-1", resend: bool = False) -> Any:
        return ledger.charges.reserve(
            request_id=rid,
            attempt=1,
            run_id=run,
            scope="default",
            pages_expected=3,
            claim_token=claim,
            resend=resend,
        )

    ledger.charges.settle(reserve("r1", None), "answered", billed_pages=2, http_status=200)
    ledger.charges.settle(reserve("r2", None), "not_billed", http_status=400, error_code="0025")
    ledger.charges.settle(reserve("r3", None, resend=True), "possibly_billed", http_status=200)
    reserve("r-live", live.token)  # in flight: its worker's claim lives
    reserve("r-dead", dead.token, run="run-2")  # its worker died mid-call
    time.sleep(0.05)
    bill = summarize(ledger.charges.records(), ledger.claims)
    totals = bill["totals"]
    assert totals["answered_calls"] == 1 and totals["answered_pages"] == 2
    assert totals["possibly_billed_calls"] == 2 and totals["possibly_billed_pages"] == 6
    assert totals["calls"] == 3 and totals["pages"] == 8
    assert totals["resent_calls"] == 1 and totals["not_billed_calls"] == 1
    assert totals["in_flight_calls"] == 1
    assert [(r["run_id"], r["calls"]) for r in bill["by_run"]] == [("run-1", 2), ("run-2", 1)]
    assert ledger.charges.unsettled("r-dead", dead.token, "run-2", "default")
    assert not ledger.charges.unsettled("r1", "nope", "run-1", "default")
