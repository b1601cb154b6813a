"""clova_ocr_ingest on a real multi-worker deployment: Airflow 3.3, CeleryExecutor, two workers.

The issue's scenarios, each on a bucket folder, a store, a warehouse database, an OCR server
and a connection of its own (the run's ``config_overrides`` and ``clova_ocr_conn_id`` point
the shared deployment at them):

a. a day of 60 documents, clean: every object loaded; the server's bill equals the distinct
   requests and ``clova-etl billing``;
b. one worker and its task processes killed (SIGKILL) while its OCR task is mid-batch: the
   task is retried on the other worker once the heartbeat times out, the dead worker's claims
   expire, and the run ends with every document loaded (or fails naming what is pending); the
   server's bill still equals ``clova-etl billing``;
c. a run budget of 20 calls over 4 OCR tasks in parallel: the server bills at most 20, the run
   fails loudly and the rest stays pending;
d. a rate limit of 5 calls/s in the connection and at the server, 4 OCR tasks in parallel: at
   most a few throttled (0025) answers, nothing left pending.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.deployment.cluster import (
    TASK_HEARTBEAT_TIMEOUT,
    Cluster,
    OcrServer,
    wait_for,
)

pytestmark = [
    pytest.mark.deployment,
    pytest.mark.airflow,
    pytest.mark.postgres,
    pytest.mark.slow,
    # The first test also pays for starting the deployment (2-4 minutes on a busy machine).
    pytest.mark.timeout(1800),
]

DAG = "clova_ocr_ingest"
SAMPLE = "receipt-en"
# The claim TTL of scenario b: a dead worker's claims are free for the retry after this.
CLAIM_TTL_SECONDS = 20


@dataclass
class Scenario:
    """One scenario's bucket folder, store, warehouse, OCR server and connection."""

    cluster: Cluster
    name: str
    source: Path
    store: Path
    warehouse_uri: str
    server: OcrServer
    conn_id: str
    runs: list[str] = field(default_factory=list)

    def put_documents(self, count: int) -> list[str]:
        """``count`` distinct one-page PNGs under ``inbox/general/``; their keys."""
        from clova_etl.samples import build_sample

        data = build_sample(SAMPLE)
        folder = self.source / "inbox" / "general"
        folder.mkdir(parents=True, exist_ok=True)
        keys = []
        for i in range(count):
            # Bytes after IEND change the content hash (so the request_id), not the image.
            (folder / f"doc-{i:03d}.png").write_bytes(data + f"{self.name}-{i:04d}".encode())
            keys.append(f"inbox/general/doc-{i:03d}.png")
        return keys

    def conf(self, run: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
        """The run's params: this scenario's resources, today's interval, ``run`` config."""
        now = datetime.now(UTC)
        overrides: dict[str, Any] = {
            "source": {"uri": str(self.source)},
            "store": {"uri": str(self.store)},
            "warehouse": {"uri": self.warehouse_uri},
        }
        if run:
            overrides["run"] = run
        return {
            # "A chosen day": the interval comes from the params; --logical-date would not pick it.
            "from_date": (now - timedelta(hours=1)).isoformat(),
            "to_date": (now + timedelta(hours=1)).isoformat(),
            "clova_ocr_conn_id": self.conn_id,
            "config_overrides": overrides,
            **params,
        }

    def trigger(self, conf: dict[str, Any]) -> str:
        """Trigger the ingest DAG with ``conf``; the run id."""
        run_id = f"deploy-{self.name}-{self.cluster.token}"
        self.cluster.trigger(DAG, run_id, conf)
        self.runs.append(run_id)
        return run_id

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` in the scenario's warehouse."""
        import psycopg

        with psycopg.connect(self.warehouse_uri) as con:
            return [tuple(r) for r in con.execute(sql).fetchall()]

    def object_status(self) -> dict[str, int]:
        """``{status: objects}`` of ``ocr.etl_objects``."""
        rows = self.query("SELECT status, count(*) FROM ocr.etl_objects GROUP BY status")
        return {str(s): int(n) for s, n in rows}

    def loaded_requests(self) -> int:
        """Succeeded requests in ``ocr.ocr_requests``."""
        sql = "SELECT count(*) FROM ocr.ocr_requests WHERE status = 'succeeded'"
        return int(self.query(sql)[0][0])

    def billing_totals(self) -> dict[str, Any]:
        """``clova-etl billing --store … --json`` totals of this scenario's store."""
        totals: dict[str, Any] = self.cluster.billing(self.store)["totals"]
        print(f"scenario {self.name}: clova-etl billing totals {totals}")
        return totals


def _scenario(cluster: Cluster, name: str, *server_options: str, **extra: Any) -> Scenario:
    server = cluster.ocr_server(f"ocr-server-{name}", *server_options)
    conn_id = f"clova_ocr_{name}"
    cluster.add_connection(conn_id, server, extra)
    return Scenario(
        cluster=cluster,
        name=name,
        source=cluster.shared / f"bucket-{name}",
        store=cluster.shared / f"store-{name}",
        warehouse_uri=cluster.database(f"clova_wh_{name}"),
        server=server,
        conn_id=conn_id,
    )


@pytest.fixture
def new_scenario(cluster: Cluster) -> Iterator[Callable[..., Scenario]]:
    """Factory of scenarios; afterwards no run of theirs stays active and both workers run.

    A scenario that fails midway must not leave a run holding the DAG's one active run slot,
    nor a worker down, for the next scenario.
    """
    made: list[Scenario] = []

    def make(name: str, *server_options: str, **extra: Any) -> Scenario:
        made.append(_scenario(cluster, name, *server_options, **extra))
        return made[-1]

    yield make
    for sc in made:
        for run_id in sc.runs:
            cluster.fail_if_active(DAG, run_id)
    cluster.ensure_workers()


def _ocr_tis(cluster: Cluster, run_id: str) -> list[dict[str, Any]]:
    return [t for t in cluster.task_instances(DAG, run_id) if t["task_id"] == "ocr"]


def _assert_ran_in_parallel(
    cluster: Cluster, run_id: str, count: int, *, all_at_once: bool = True
) -> None:
    """The run's ``count`` OCR tasks were all running at one moment (their spans overlap).

    Not ``all_at_once``: each one started while another was still running. A task the budget
    refuses ends within a second or two, possibly before a loaded worker has started the last
    one; what matters is that every task decided while another was spending.
    """
    tis = _ocr_tis(cluster, run_id)
    assert len(tis) == count, tis
    starts = [datetime.fromisoformat(t["start_date"]) for t in tis]
    ends = [datetime.fromisoformat(t["end_date"]) for t in tis]
    spans = list(zip(starts, ends, strict=True))
    if all_at_once:
        assert max(starts) < min(ends), f"the OCR tasks did not overlap: {spans}"
    else:
        alone = [
            (start, end)
            for i, (start, end) in enumerate(spans)
            if all(start >= other_end for j, (_, other_end) in enumerate(spans) if j != i)
        ]
        assert not alone, f"OCR tasks started after all the others ended: {alone} of {spans}"
    assert {t["hostname"] for t in tis} == {"deploy-w1", "deploy-w2"}, tis


def _brief(tis: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fields of task instances a failure message needs."""
    keys = ("task_id", "map_index", "state", "hostname", "try_number", "pool")
    return [{k: t.get(k) for k in keys} for t in tis]


def _describe(cluster: Cluster, run_id: str) -> str:
    return f"tasks: {cluster.task_states(DAG, run_id)}"


def test_a_day_of_60_documents_is_loaded_and_billed_once(
    cluster: Cluster, new_scenario: Callable[..., Scenario]
) -> None:
    sc = new_scenario("clean", "--latency-ms", "50")
    keys = sc.put_documents(60)
    started = time.monotonic()
    run_id = sc.trigger(sc.conf(run={"batch_size": 16}))
    state = cluster.wait_run(DAG, run_id, timeout=900)
    elapsed = time.monotonic() - started
    assert state == "success", _describe(cluster, run_id)

    ocr = _brief(_ocr_tis(cluster, run_id))
    stats = sc.server.stats()
    print(
        f"\nscenario a: 60 documents in {elapsed:.0f} s; server billed "
        f"{stats['billable_calls']} call(s) for {len(stats['billable_by_request_id'])} request(s)"
    )
    # The mapped OCR tasks ran on both workers.
    assert len(ocr) == 4, ocr
    assert {t["hostname"] for t in ocr} == {"deploy-w1", "deploy-w2"}, ocr

    assert sc.object_status() == {"loaded": len(keys)}
    assert sc.loaded_requests() == len(keys)
    assert stats["billable_calls"] == len(stats["billable_by_request_id"]) == len(keys)
    assert max(stats["calls_by_request_id"].values()) == 1, "a request was sent twice"

    # The secret stays out of every task log (workers, scheduler) and the store.
    logs = cluster.home / "logs"
    leaked = [p for p in logs.rglob("*.log") if sc.server.secret in p.read_text(errors="replace")]
    secret = sc.server.secret.encode()
    leaked += [p for p in sc.store.rglob("*") if p.is_file() and secret in p.read_bytes()]
    assert not leaked, f"the OCR secret is in {leaked}"

    totals = cluster.billing(sc.store)["totals"]
    print(f"scenario a: clova-etl billing totals {totals}")
    assert totals["calls"] == stats["billable_calls"], totals
    assert totals["pages"] == stats["billable_pages"], totals
    assert totals["possibly_billed_calls"] == 0 and totals["in_flight_calls"] == 0, totals

    # The OCR tasks ran in the clova_ocr pool (its slots cap OCR batches across workers).
    assert {t["pool"] for t in ocr} == {"clova_ocr"}, ocr


def test_a_worker_killed_mid_batch_loses_nothing_and_the_bill_matches(
    cluster: Cluster, new_scenario: Callable[..., Scenario]
) -> None:
    # One call at a time per task, 1 s each: an OCR task lasts ~16 s, long enough to be killed
    # mid-batch with at most one call in flight.
    sc = new_scenario("kill", "--latency-ms", "1000", concurrency=1)
    keys = sc.put_documents(60)
    run_id = sc.trigger(sc.conf(run={"batch_size": 16, "claim_ttl_seconds": CLAIM_TTL_SECONDS}))

    def victim() -> list[dict[str, Any]] | None:
        running = [
            t
            for t in _ocr_tis(cluster, run_id)
            if t["state"] == "running" and t["hostname"] == "deploy-w1"
        ]
        return running if running and sc.server.stats()["total_calls"] >= 2 else None

    running = wait_for("an OCR task running on deploy-w1", victim, 600, interval=0.5)
    calls_before = sc.server.stats()["total_calls"]
    killed_at = time.monotonic()
    pids = cluster.kill_worker("deploy-w1")
    killed = {t["map_index"] for t in running}
    print(f"\nscenario b: killed deploy-w1 ({len(pids)} processes) during ocr{sorted(killed)}")

    # The scheduler notices the dead tasks after the heartbeat timeout, and retries them on
    # the surviving worker (deploy-w1 stays down until the run ends).
    def retried() -> bool:
        tis = {t["map_index"]: t for t in _ocr_tis(cluster, run_id)}
        return all(tis[i]["try_number"] >= 2 for i in killed)

    wait_for(
        "the killed OCR tasks to be retried",
        retried,
        # Heartbeat timeout + retry delay (30 s, with jitter) + scheduling on a busy machine;
        # under Airflow's default timeout (300 s) this could not pass.
        TASK_HEARTBEAT_TIMEOUT + 210,
        interval=1,
        diagnostics=lambda: _describe(cluster, run_id),
    )
    noticed = time.monotonic() - killed_at
    state = cluster.wait_run(DAG, run_id, timeout=900)
    elapsed = time.monotonic() - killed_at

    tis = {t["map_index"]: t for t in _brief(_ocr_tis(cluster, run_id))}
    stats = sc.server.stats()
    resent = sum(n - 1 for n in stats["calls_by_request_id"].values())
    print(
        f"scenario b: retried {noticed:.0f} s after the kill; run {state} {elapsed:.0f} s after "
        f"it; {calls_before} call(s) before the kill; server billed {stats['billable_calls']} "
        f"call(s) for {len(stats['billable_by_request_id'])} request(s), {resent} sent again; "
        f"objects {sc.object_status()}"
    )
    for i in killed:
        assert tis[i]["hostname"] == "deploy-w2", tis[i]
    # Only a call in flight at the kill (one per killed task) may have been sent again.
    assert resent <= len(killed), stats["calls_by_request_id"]
    if state == "success":
        assert sc.object_status() == {"loaded": len(keys)}
        assert sc.loaded_requests() == len(keys)
    else:
        # Failing is allowed only loudly: the finish task fails, naming what is pending.
        finish = next(t for t in cluster.task_instances(DAG, run_id) if t["task_id"] == "finish")
        assert finish["state"] == "failed", _describe(cluster, run_id)
        assert "pending" in cluster.task_log(DAG, run_id, "finish")
        status = sc.object_status()
        assert status.get("pending", 0) > 0 and sum(status.values()) == len(keys), status
    # The bill the service sends equals the ledger's count, the call sent twice included.
    totals = sc.billing_totals()
    assert totals["calls"] == stats["billable_calls"], (totals, stats["billable_calls"])
    assert totals["pages"] == stats["billable_pages"], (totals, stats["billable_pages"])


def test_a_run_budget_holds_across_4_parallel_ocr_tasks(
    cluster: Cluster, new_scenario: Callable[..., Scenario]
) -> None:
    # 3 s a call, 2 at a time per task: the 4 tasks are still sending when the budget is spent.
    sc = new_scenario("budget", "--latency-ms", "3000", concurrency=2)
    keys = sc.put_documents(64)
    conf = sc.conf(run={"batch_size": 16, "max_batches": 4}, max_calls=20)
    run_id = sc.trigger(conf)

    state = cluster.wait_run(DAG, run_id, timeout=600)
    stats = sc.server.stats()
    status = sc.object_status()
    print(
        f"\nscenario c: budget 20 calls; server billed {stats['billable_calls']}; run {state}; "
        f"objects {status}"
    )
    _assert_ran_in_parallel(cluster, run_id, 4, all_at_once=False)
    assert stats["billable_calls"] <= 20, stats["billable_calls"]
    # Loudly: the run fails at finish, and what was not sent stays pending for a later run.
    assert state == "failed", _describe(cluster, run_id)
    finish = next(t for t in cluster.task_instances(DAG, run_id) if t["task_id"] == "finish")
    assert finish["state"] == "failed", _describe(cluster, run_id)
    assert "budget" in cluster.task_log(DAG, run_id, "finish")
    assert status.get("loaded", 0) == stats["billable_calls"], status
    assert status.get("pending", 0) == len(keys) - stats["billable_calls"], status
    totals = sc.billing_totals()
    assert totals["calls"] == stats["billable_calls"] <= 20, totals


def test_a_global_rate_limit_holds_across_4_parallel_ocr_tasks(
    cluster: Cluster, new_scenario: Callable[..., Scenario]
) -> None:
    sc = new_scenario("rate", "--rate-limit", "5", concurrency=4, rate_limit_per_second=5)
    keys = sc.put_documents(64)
    run_id = sc.trigger(sc.conf(run={"batch_size": 16, "max_batches": 4}))

    state = cluster.wait_run(DAG, run_id, timeout=600)
    stats = sc.server.stats()
    throttled = int(stats["responses_by_code"].get("0025", 0))
    print(
        f"\nscenario d: {throttled} throttled (0025) answer(s) of {stats['total_calls']} "
        f"call(s); server billed {stats['billable_calls']}; run {state}; "
        f"objects {sc.object_status()}"
    )
    _assert_ran_in_parallel(cluster, run_id, 4)
    assert throttled <= 3, f"{throttled} answers 0025: the 4 tasks did not share one rate limit"
    assert state == "success", _describe(cluster, run_id)
    assert sc.object_status() == {"loaded": len(keys)}
    assert stats["billable_calls"] == len(keys)
    totals = sc.billing_totals()
    assert totals["calls"] == stats["billable_calls"], totals
