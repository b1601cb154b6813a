"""The rate limit of a CLOVA domain, kept by every process that calls it.

``limits/<domain>.json`` holds the schedule's next start time (the generic cell rate
algorithm: a token bucket kept as one timestamp). A caller takes a start with a
compare-and-swap (``next = max(now, next) + 1/rate``) and sleeps until ``next - (burst - 1)/rate``
(or not at all): whatever the number of tasks, workers and CLI runs sharing the store, at most
``burst`` calls start at once and ``rate`` per second after that, so the configured
``rate_limit_per_second`` is the domain's total. The burst lets a caller that stalled for a
moment (a pause, a slow write) catch up instead of losing the time, as the client's own token
bucket does. Clocks of the machines sharing the store must agree (NTP) to well under ``1/rate``.

A process takes as many starts at once as it has callers waiting for one, at most ``burst``
(one compare-and-swap for the lot, each start the one a caller taking them one by one would
have got). On a local folder a swap takes a fraction of a millisecond and callers seldom wait
for each other: nearly every swap takes one start. On a store whose swap is a round trip (S3's
conditional PUT), callers queue up behind it and one swap serves them all, so the store's
latency does not cap the rate. A process takes no more starts than its callers use, so it
wastes none of the other processes' share. A start not used in time is dropped, not used late:
late, it would bunch up with the schedule's next ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor

from clova_etl.pipeline.ledger.store import Record, update
from clova_etl.pipeline.storage import Storage


def limit_key(invoke_url: str) -> str:
    """Key of a domain's schedule (the invoke URL names the domain; it holds no secret)."""
    return f"limits/{hashlib.sha256(invoke_url.rstrip('/').encode()).hexdigest()[:24]}.json"


class SharedRateLimit:
    """At most ``rate`` starts per second across every process sharing ``store``."""

    def __init__(
        self,
        store: Storage,
        invoke_url: str,
        rate: float,
        *,
        burst: int = 1,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.store = store
        self.key = limit_key(invoke_url)
        self.rate = rate
        self.burst = burst
        self._executor = executor
        self._clock = clock  # wall-clock seconds: the schedule is shared between machines
        # This process's callers take their turns one at a time: forty threads racing for the
        # same record would mostly lose the compare-and-swap and back off.
        self._turn = threading.Lock()
        self._taken: deque[float] = deque()  # starts this process took and has not used yet
        self._waiting = 0  # callers in take() now
        self._count = threading.Lock()

    def reserve(self) -> float:
        """Take the next start; return the seconds to wait for it."""
        return max(0.0, self.take() - self._clock())

    def take(self) -> float:
        """Take the next start; return its time on the clock (the schedule, not a wake-up)."""
        interval = 1.0 / self.rate
        with self._count:
            self._waiting += 1
        try:
            with self._turn:
                now = self._clock()
                while self._taken and self._taken[0] < now - interval:
                    self._taken.popleft()  # not used in time: dropped
                if not self._taken:
                    with self._count:
                        wanted = min(self.burst, self._waiting)
                    self._taken.extend(self._take_block(interval, wanted))
                return self._taken.popleft()
        finally:
            with self._count:
                self._waiting -= 1

    def _take_block(self, interval: float, count: int) -> list[float]:
        taken: list[float] = []

        def change(current: Record | None) -> Record:
            now = self._clock()
            scheduled = max(now, float((current or {}).get("next", 0.0)))
            taken.clear()
            for _ in range(count):
                taken.append(max(now, scheduled - (self.burst - 1) * interval))
                scheduled += interval
            return {"next": scheduled, "rate": self.rate}

        # Not fsynced: a schedule lost (or left empty) by a power cut restarts from now, which
        # is all it is for; an fsync would hold the record's lock for nothing at every start.
        update(self.store, self.key, change, durable=False)
        return taken

    async def acquire(self) -> float:
        """Wait for the next start (the store is touched off the event loop)."""
        wait = await asyncio.get_running_loop().run_in_executor(self._executor, self.reserve)
        if wait > 0:
            await asyncio.sleep(wait)
        return wait

    def __repr__(self) -> str:
        return f"SharedRateLimit(rate={self.rate!r}, burst={self.burst!r}, key={self.key!r})"


__all__ = ["SharedRateLimit", "limit_key"]
