"""Configuration objects, the invoke URL, backoff and the token bucket (no network)."""

from __future__ import annotations

import asyncio
import random
import time

import httpx
import pytest

from clova_etl.client import InvokeURL, Limits, RetryPolicy, Timeouts, TokenBucket
from clova_etl.client._response import parse_retry_after


@pytest.mark.parametrize(
    "url",
    [
        "https://abc.apigw.ntruss.com/custom/v1/12345/abcdef",
        "https://abc.apigw.ntruss.com/custom/v1/12345/abcdef/",
        "https://abc.apigw.ntruss.com/custom/v1/12345/abcdef/general",
        "https://abc.apigw.ntruss.com/custom/v1/12345/abcdef/infer",
        " https://abc.apigw.ntruss.com/custom/v1/12345/abcdef/infer/ ",
    ],
)
def test_invoke_url_as_the_console_shows_it(url: str) -> None:
    invoke = InvokeURL(url)
    base = "https://abc.apigw.ntruss.com/custom/v1/12345/abcdef"
    assert str(invoke) == base
    assert str(invoke.endpoint("general")) == base + "/general"
    assert str(invoke.endpoint("template")) == base + "/infer"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://127.0.0.1:8080/"])
def test_plain_base_url(url: str) -> None:
    invoke = InvokeURL(url)
    assert str(invoke.endpoint("general")) == "http://127.0.0.1:8080/general"
    assert str(invoke.endpoint("template")) == "http://127.0.0.1:8080/infer"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/x", "absolute http"),
        ("/custom/v1/1/a", "absolute http"),
        ("https://user:pw@host/custom", "credentials"),
        ("https://host/custom?x=1", "query"),
    ],
)
def test_bad_invoke_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        InvokeURL(url)
    assert "pw" not in str(info.value)


def test_timeouts_map_to_httpx() -> None:
    t = Timeouts(connect=1, read=2, write=3, pool=4)
    assert t.to_httpx() == httpx.Timeout(connect=1, read=2, write=3, pool=4)
    with pytest.raises(ValueError, match="read"):
        Timeouts(read=0)


def test_limits_validate() -> None:
    assert Limits(max_concurrency=3).to_httpx().max_connections == 3
    for kwargs in ({"max_concurrency": 0}, {"requests_per_second": 0}, {"burst": 0}):
        with pytest.raises(ValueError):
            Limits(**kwargs)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_backoff_is_exponential_with_full_jitter() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=4.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = [policy.delay(attempt, rng=rng) for _ in range(300)]
        assert min(delays) >= 0.0 and max(delays) <= ceiling
        assert max(delays) > ceiling * 0.8  # full jitter spreads over the whole range
        assert min(delays) < ceiling * 0.2


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(backoff_base=0.01, backoff_cap=0.01, retry_after_cap=5)
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=60.0) == 5.0
    ignoring = RetryPolicy(backoff_base=0.01, backoff_cap=0.01, respect_retry_after=False)
    assert ignoring.delay(1, retry_after=3.0) <= 0.01


def test_parse_retry_after() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = 1_700_000_000.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", now=now) == pytest.approx(10.0)
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:00 GMT", now=now) == 0.0


def test_token_bucket_schedules_callers_in_order() -> None:
    now = [100.0]
    bucket = TokenBucket(rate=10, burst=2, clock=lambda: now[0])
    waits = [bucket.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3])
    now[0] += 1.0  # the queue drains, then two tokens are saved up again (burst)
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.1])


def test_token_bucket_limits_concurrent_tasks() -> None:
    bucket = TokenBucket(rate=50, burst=1)
    starts: list[float] = []

    async def one() -> None:
        await bucket.acquire()
        starts.append(time.monotonic())

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(11)))

    t0 = time.monotonic()
    asyncio.run(main())
    # The 11th task got the 10th token after the first: at least 10/50 s later.
    assert len(starts) == 11 and max(starts) - t0 >= 10 / 50 * 0.95
