"""Small explicit configuration objects passed to the client constructor."""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

__all__ = ["Limits", "RetryPolicy", "Timeouts"]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed to connect, read the answer, write the body, and wait for a pool slot."""

    connect: float = 10.0
    # OCR of a 10-page PDF takes tens of seconds on the real service.
    read: float = 120.0
    write: float = 60.0
    pool: float = 60.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "write", "pool"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Timeouts.{name} must be positive")

    def to_httpx(self) -> httpx.Timeout:
        """The same values as an :class:`httpx.Timeout`."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of transient errors: exponential backoff with full jitter, ``Retry-After`` kept.

    ``max_attempts`` counts the first try. A 200 whose body is not JSON is retried at most
    ``max_malformed_retries`` times: the real service may have billed that call already.
    """

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_malformed_retries: int = 1
    respect_retry_after: bool = True
    retry_after_cap: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        if self.backoff_base < 0 or self.backoff_cap < 0 or self.retry_after_cap < 0:
            raise ValueError("RetryPolicy delays must not be negative")
        if self.max_malformed_retries < 0:
            raise ValueError("RetryPolicy.max_malformed_retries must not be negative")

    def delay(
        self, attempt: int, *, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to sleep after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** max(0, attempt - 1))
        jittered = (rng or random).uniform(0.0, ceiling)
        if self.respect_retry_after and retry_after is not None:
            return max(jittered, min(retry_after, self.retry_after_cap))
        return jittered


@dataclass(frozen=True, slots=True)
class Limits:
    """How hard the client may push: requests in flight, and requests started per second.

    ``requests_per_second=None`` disables the client-side rate limit; ``burst`` is the number
    of requests that may start back to back before the rate applies.
    """

    max_concurrency: int = 4
    requests_per_second: float | None = None
    burst: int = 1

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError("Limits.max_concurrency must be at least 1")
        if self.requests_per_second is not None and self.requests_per_second <= 0:
            raise ValueError("Limits.requests_per_second must be positive (or None)")
        if self.burst < 1:
            raise ValueError("Limits.burst must be at least 1")

    def to_httpx(self) -> httpx.Limits:
        """Connection-pool limits matching the concurrency."""
        return httpx.Limits(
            max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency
        )
