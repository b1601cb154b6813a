"""Fault injection: rate limit (token bucket), quota, random failures, malformed and dropped
answers, latency. Every random decision comes from one generator seeded by the config, drawn
a fixed number of times per call, so call N of a run always meets the same faults.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from clova_etl.server.config import ServerConfig

Failure = Literal["0500", "0501"]


@dataclass(frozen=True)
class CallFaults:
    """The faults decided for one call."""

    failure: Failure | None
    malformed: bool
    drop: bool


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; one token per call."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._clock = clock  # a test's clock, so the refill is checked without sleeping
        self._tokens = self.burst
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Take a token if one is available."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class Quota:
    """At most ``limit`` billable calls; a call reserves a unit and gives it back if unbilled."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    def reserve(self) -> bool:
        """Reserve one unit; False once the quota is reached."""
        with self._lock:
            if self.limit is not None and self._used >= self.limit:
                return False
            self._used += 1
            return True

    def release(self) -> None:
        """Give back a reserved unit (the call was not billable)."""
        with self._lock:
            self._used = max(0, self._used - 1)

    def reset(self) -> None:
        """Forget what was used."""
        with self._lock:
            self._used = 0


class FaultPlan:
    """The per-call decisions of a server."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.bucket = TokenBucket(config.rate_limit) if config.rate_limit else None
        self.quota = Quota(config.quota)
        self._rng = random.Random(config.seed)  # noqa: S311 - reproducible faults, not crypto
        self._lock = threading.Lock()

    def allow_rate(self) -> bool:
        """False when the call exceeds the rate limit."""
        return self.bucket.take() if self.bucket is not None else True

    def decide(self) -> CallFaults:
        """Draw this call's faults (always four draws, whatever the rates, for determinism)."""
        with self._lock:
            fail, kind, malformed, drop = (self._rng.random() for _ in range(4))
        return self.faults_from(fail, kind, malformed, drop)

    def faults_from(self, fail: float, kind: float, malformed: float, drop: float) -> CallFaults:
        """The faults that one call's four draws mean under this configuration."""
        cfg = self.config
        failure: Failure | None = None
        if fail < cfg.fail_rate:
            failure = "0500" if kind < 0.5 else "0501"
        return CallFaults(
            failure=failure,
            malformed=failure is None and malformed < cfg.malformed_rate,
            drop=failure is None and drop < cfg.drop_rate,
        )

    def reset(self) -> None:
        """Restart the random sequence and the quota (used by ``DELETE /_stats``)."""
        with self._lock:
            self._rng = random.Random(self.config.seed)  # noqa: S311
        self.quota.reset()
