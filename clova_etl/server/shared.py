"""Counters, rate limit, quota and fault sequence shared by the worker processes of one server.

``clova-etl serve --workers N`` runs N processes behind one listening socket; what a client sees
must not depend on which process answers. Each piece of shared state lives in one SQLite file
(WAL, no fsync: it dies with the server), and every update is one short ``BEGIN IMMEDIATE``
transaction, so the counts at ``/_stats`` are exact, the token bucket holds across processes and
the quota is never overspent. The classes below replace the in-memory ones of
:mod:`~clova_etl.server.stats` and :mod:`~clova_etl.server.faults` method for method.

Faults stay reproducible: call N of a run (N from a shared counter) meets the N-th block of
draws of ``random.Random(seed)``, as in a single process; each process advances its own
generator to that block.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from clova_etl.server.config import ServerConfig
from clova_etl.server.faults import CallFaults, FaultPlan, Quota, TokenBucket
from clova_etl.server.stats import ServerStats

T = TypeVar("T")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS keyed ("
    " kind TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (kind, key))",
    "CREATE TABLE IF NOT EXISTS bucket (id INTEGER PRIMARY KEY, tokens REAL, stamp REAL)",
)
_COUNTERS = (
    "total",
    "billable",
    "billable_pages",
    "malformed",
    "dropped",
    "quota_used",
    "calls_decided",
    "epoch",
)


class SharedStore:
    """One process's connection to the shared state file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._con = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        self._con.execute("PRAGMA synchronous = OFF")
        self._lock = threading.Lock()

    @classmethod
    def create(cls, path: Path) -> None:
        """Create the state file (before the workers start)."""
        con = sqlite3.connect(path, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode = WAL")
            for statement in _SCHEMA:
                con.execute(statement)
            con.executemany(
                "INSERT OR IGNORE INTO counters VALUES (?, 0)", [(c,) for c in _COUNTERS]
            )
        finally:
            con.close()

    def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one write transaction (other processes wait for it)."""
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._con)
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")
            return result

    def add(self, con: sqlite3.Connection, name: str, delta: int = 1) -> int:
        """Add ``delta`` to a counter; its new value."""
        row = con.execute(
            "UPDATE counters SET value = value + ? WHERE name = ? RETURNING value", (delta, name)
        ).fetchone()
        return int(row[0])

    def bump(self, con: sqlite3.Connection, kind: str, key: str) -> None:
        """Count one more ``key`` of ``kind``."""
        con.execute(
            "INSERT INTO keyed VALUES (?, ?, 1) ON CONFLICT (kind, key) DO UPDATE SET n = n + 1",
            (kind, key),
        )

    def close(self) -> None:
        """Close this process's connection."""
        self._con.close()


class SharedStats(ServerStats):
    """:class:`ServerStats` over the shared file: every worker's calls in one set of counts."""

    def __init__(self, store: SharedStore) -> None:  # no reset: the file outlives a worker
        self._store = store

    def reset(self) -> None:
        """Zero every counter (of every worker)."""

        def work(con: sqlite3.Connection) -> None:
            con.execute(
                "UPDATE counters SET value = 0 "
                "WHERE name IN ('total', 'billable', 'billable_pages', 'malformed', 'dropped')"
            )
            con.execute("DELETE FROM keyed")

        self._store.transaction(work)

    def call(self) -> None:
        """A call reached an OCR endpoint."""
        self._store.transaction(lambda con: self._store.add(con, "total"))

    def request_id(self, request_id: str) -> None:
        """The call carried this ``requestId``."""
        self._store.transaction(lambda con: self._store.bump(con, "calls", request_id))

    def answered(self, code: str) -> None:
        """An answer went out with this code ("200" for results)."""
        self._store.transaction(lambda con: self._store.bump(con, "code", code))

    def billed(self, request_id: str, pages: int) -> None:
        """The call was charged for ``pages`` images."""

        def work(con: sqlite3.Connection) -> None:
            self._store.add(con, "billable")
            self._store.add(con, "billable_pages", pages)
            self._store.bump(con, "billable", request_id)

        self._store.transaction(work)

    def malformed(self) -> None:
        """A 200 answer was sent with a broken body."""
        self._store.transaction(lambda con: self._store.add(con, "malformed"))

    def dropped(self) -> None:
        """A connection was closed without an answer."""

        def work(con: sqlite3.Connection) -> None:
            self._store.add(con, "dropped")
            self._store.bump(con, "code", "dropped")

        self._store.transaction(work)

    def snapshot(self) -> dict[str, Any]:
        """The counters of every worker, as JSON-ready values."""

        def work(con: sqlite3.Connection) -> dict[str, Any]:
            counters = dict(con.execute("SELECT name, value FROM counters").fetchall())
            keyed: dict[str, dict[str, int]] = {"calls": {}, "billable": {}, "code": {}}
            for kind, key, n in con.execute("SELECT kind, key, n FROM keyed ORDER BY rowid"):
                keyed[kind][key] = n
            return {
                "total_calls": counters["total"],
                "billable_calls": counters["billable"],
                "billable_pages": counters["billable_pages"],
                "calls_by_request_id": keyed["calls"],
                "billable_by_request_id": keyed["billable"],
                "responses_by_code": keyed["code"],
                "malformed_responses": counters["malformed"],
                "dropped_connections": counters["dropped"],
            }

        return self._store.transaction(work)


class SharedTokenBucket(TokenBucket):
    """:class:`TokenBucket` whose tokens all workers take from."""

    def __init__(self, store: SharedStore, rate: float, burst: float | None = None) -> None:
        super().__init__(rate, burst)
        self._store = store

    def take(self) -> bool:
        """Take a token if one is available (to every worker: the monotonic clock is shared)."""

        def work(con: sqlite3.Connection) -> bool:
            now = time.monotonic()
            row = con.execute("SELECT tokens, stamp FROM bucket WHERE id = 1").fetchone()
            tokens, stamp = (self.burst, now) if row is None else row
            tokens = min(self.burst, tokens + max(0.0, now - stamp) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            con.execute("INSERT OR REPLACE INTO bucket VALUES (1, ?, ?)", (tokens, now))
            return allowed

        return self._store.transaction(work)


class SharedQuota(Quota):
    """:class:`Quota` counted in the shared file."""

    def __init__(self, store: SharedStore, limit: int | None) -> None:
        super().__init__(limit)
        self._store = store

    def reserve(self) -> bool:
        """Reserve one unit; False once the quota is reached by all workers together."""

        def work(con: sqlite3.Connection) -> bool:
            if self.limit is not None:
                row = con.execute("SELECT value FROM counters WHERE name = 'quota_used'")
                if int(row.fetchone()[0]) >= self.limit:
                    return False
            self._store.add(con, "quota_used")
            return True

        return self._store.transaction(work)

    def release(self) -> None:
        """Give back a reserved unit (the call was not billable)."""
        self._store.transaction(
            lambda con: con.execute(
                "UPDATE counters SET value = max(0, value - 1) WHERE name = 'quota_used'"
            )
        )

    def reset(self) -> None:
        """Forget what was used."""
        self._store.transaction(
            lambda con: con.execute("UPDATE counters SET value = 0 WHERE name = 'quota_used'")
        )


class SharedFaultPlan(FaultPlan):
    """:class:`FaultPlan` whose call sequence (and so fault sequence) spans every worker."""

    def __init__(self, config: ServerConfig, store: SharedStore) -> None:
        super().__init__(config)
        self._store = store
        if config.rate_limit:
            self.bucket = SharedTokenBucket(store, config.rate_limit)
        self.quota = SharedQuota(store, config.quota)
        self._epoch = -1
        self._drawn = 0  # blocks of draws this process's generator has consumed

    def _draws(self) -> tuple[float, float, float, float]:
        def work(con: sqlite3.Connection) -> tuple[int, int]:
            number = self._store.add(con, "calls_decided") - 1
            row = con.execute("SELECT value FROM counters WHERE name = 'epoch'").fetchone()
            return number, int(row[0])

        number, epoch = self._store.transaction(work)
        with self._lock:
            if epoch != self._epoch or number < self._drawn:
                self._rng = random.Random(self.config.seed)  # noqa: S311 - reproducible faults
                self._epoch, self._drawn = epoch, 0
            for _ in range(4 * (number - self._drawn)):
                self._rng.random()
            self._drawn = number + 1
            fail, kind, malformed, drop = (self._rng.random() for _ in range(4))
        return fail, kind, malformed, drop

    def decide(self) -> CallFaults:
        """This call's faults: those of its place in the server-wide call sequence."""
        return self.faults_from(*self._draws())

    def reset(self) -> None:
        """Restart the shared call sequence and the quota (``DELETE /_stats``)."""

        def work(con: sqlite3.Connection) -> None:
            con.execute("UPDATE counters SET value = 0 WHERE name = 'calls_decided'")
            self._store.add(con, "epoch")

        self._store.transaction(work)
        self.quota.reset()


def shared_state(config: ServerConfig, path: Path) -> tuple[ServerStats, FaultPlan]:
    """The stats and fault plan of one worker process, over the shared file at ``path``."""
    store = SharedStore(path)
    return SharedStats(store), SharedFaultPlan(config, store)


__all__ = [
    "SharedFaultPlan",
    "SharedQuota",
    "SharedStats",
    "SharedStore",
    "SharedTokenBucket",
    "shared_state",
]
