"""``ocr_many`` against the local server: retries, throttling, quota stop, callbacks."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from clova_etl.client import (
    AsyncClovaOCRClient,
    ClovaOCRClient,
    Limits,
    OCRRequest,
    OCRResult,
    QuotaExceededError,
    QuotaNotSentError,
    RequestRejectedError,
    RetryPolicy,
)
from clova_etl.server import RunningServer

StartServer = Callable[..., RunningServer]


def batch(docs: dict[str, Path], n: int, label: str = "b") -> list[OCRRequest]:
    """``n`` requests with distinct ids (same small image)."""
    return [
        OCRRequest(request_id=f"{label}-{i:03d}-{uuid.uuid4()}", source=docs["png"])
        for i in range(n)
    ]


def test_retries_under_random_failures(
    start_ocr_server: StartServer, docs: dict[str, Path]
) -> None:
    server = start_ocr_server(fail_rate=0.3, seed=11)
    reqs = batch(docs, 24)
    retry = RetryPolicy(max_attempts=10, backoff_base=0.005, backoff_cap=0.05)
    with ClovaOCRClient(
        server.invoke_url(), server.secret, retry=retry, limits=Limits(max_concurrency=6)
    ) as client:
        results = client.ocr_many(reqs)
    assert [r.request_id for r in results] == [r.request_id for r in reqs]
    assert all(r.ok for r in results), [str(r.error) for r in results if r.error]
    stats = server.stats()
    calls = stats["calls_by_request_id"]
    assert set(calls) == {r.request_id for r in reqs}
    assert stats["total_calls"] > len(calls)  # retries happened
    assert stats["responses_by_code"].get("0500", 0) + stats["responses_by_code"].get("0501", 0) > 0
    for r in results:
        assert calls[r.request_id] == r.attempts  # the client counted every call it made
    assert stats["billable_calls"] == len(reqs)  # failed calls were not billed; none twice
    assert sum(r.attempts > 1 for r in results) >= 3


def test_every_transient_fault_at_once(
    start_ocr_server: StartServer, docs: dict[str, Path]
) -> None:
    server = start_ocr_server(fail_rate=0.2, malformed_rate=0.15, drop_rate=0.15, seed=5)
    reqs = batch(docs, 20, "mixed")
    retry = RetryPolicy(
        max_attempts=12, backoff_base=0.005, backoff_cap=0.03, max_malformed_retries=5
    )
    with ClovaOCRClient(
        server.invoke_url(), server.secret, retry=retry, limits=Limits(max_concurrency=4)
    ) as client:
        results = client.ocr_many(reqs)
    assert all(r.ok for r in results), [str(r.error) for r in results if r.error]
    stats = server.stats()
    assert stats["malformed_responses"] > 0 and stats["dropped_connections"] > 0
    assert sum(stats["calls_by_request_id"].values()) == sum(r.attempts for r in results)


def test_throttled_batch_loses_nothing(
    start_ocr_server: StartServer, docs: dict[str, Path]
) -> None:
    """A server taking 2 req/s, a client pushing 20 req/s: 0025s, backoff, all 10 succeed."""
    # Burst 2 at the server: the eight requests started 50 ms apart are throttled unless they
    # reach it 0.5 s apart (ten times the client's pace), so a loaded machine still sees 0025s.
    server = start_ocr_server(rate_limit=2)
    reqs = batch(docs, 10, "throttle")
    retry = RetryPolicy(max_attempts=30, backoff_base=0.05, backoff_cap=0.5)
    limits = Limits(max_concurrency=8, requests_per_second=20)
    with ClovaOCRClient(server.invoke_url(), server.secret, retry=retry, limits=limits) as client:
        results = client.ocr_many(reqs)
    assert all(r.ok for r in results), [str(r.error) for r in results if r.error]
    stats = server.stats()
    assert stats["responses_by_code"]["0025"] > 0
    assert stats["responses_by_code"]["200"] == 10
    assert stats["billable_calls"] == 10 and set(stats["billable_by_request_id"].values()) == {1}


def test_client_rate_limit_avoids_throttling(
    start_ocr_server: StartServer, docs: dict[str, Path]
) -> None:
    server = start_ocr_server(rate_limit=20)
    reqs = batch(docs, 24, "paced")
    limits = Limits(max_concurrency=8, requests_per_second=15, burst=1)
    started = time.monotonic()
    with ClovaOCRClient(server.invoke_url(), server.secret, limits=limits) as client:
        results = client.ocr_many(reqs)
    elapsed = time.monotonic() - started
    assert all(r.ok and r.attempts == 1 for r in results)
    assert "0025" not in server.stats()["responses_by_code"]
    assert elapsed >= 23 / 15 * 0.9  # the client paced itself


def test_quota_stops_the_batch(start_ocr_server: StartServer, docs: dict[str, Path]) -> None:
    server = start_ocr_server(quota=3)
    reqs = batch(docs, 8, "quota")
    limits = Limits(max_concurrency=1)
    with ClovaOCRClient(server.invoke_url(), server.secret, limits=limits) as client:
        results = client.ocr_many(reqs)
    assert [r.ok for r in results] == [True] * 3 + [False] * 5
    hit = results[3].error
    assert type(hit) is QuotaExceededError and hit.code == "0023" and results[3].attempts == 1
    for r in results[4:]:
        assert isinstance(r.error, QuotaNotSentError) and r.attempts == 0 and r.raw_body is None
        assert r.error.code == "QUOTA_NOT_SENT" and r.error.request_id == r.request_id
    stats = server.stats()
    assert stats["total_calls"] == 4  # nothing was sent after the 0023
    assert set(stats["calls_by_request_id"]) == {r.request_id for r in reqs[:4]}


def test_quota_stop_with_concurrency(start_ocr_server: StartServer, docs: dict[str, Path]) -> None:
    server = start_ocr_server(quota=5)
    reqs = batch(docs, 40, "quota-c")
    with ClovaOCRClient(
        server.invoke_url(), server.secret, limits=Limits(max_concurrency=4)
    ) as client:
        results = client.ocr_many(reqs)
    assert sum(r.ok for r in results) == 5
    not_sent = [r for r in results if isinstance(r.error, QuotaNotSentError)]
    # Only requests already in flight when the first 0023 came back could be sent after it.
    assert server.stats()["total_calls"] <= 5 + 4
    assert len(not_sent) == 40 - server.stats()["total_calls"]


def test_on_result_is_called_as_each_request_finishes(
    ocr_server: RunningServer, docs: dict[str, Path]
) -> None:
    reqs = batch(docs, 9, "cb")
    reqs.insert(4, OCRRequest(request_id=f"empty-{uuid.uuid4()}", source=docs["empty"]))
    seen: list[tuple[str, bool]] = []

    async def main() -> list[OCRResult]:
        async with AsyncClovaOCRClient(
            ocr_server.invoke_url(), ocr_server.secret, limits=Limits(max_concurrency=3)
        ) as client:

            async def on_result(result: OCRResult) -> None:
                await asyncio.sleep(0)
                seen.append((result.request_id, result.ok))

            return await client.ocr_many(reqs, on_result=on_result)

    results = asyncio.run(main())
    assert [r.request_id for r in results] == [r.request_id for r in reqs]
    assert sorted(seen) == sorted((r.request_id, r.ok) for r in results)
    rejected = results[4]
    assert isinstance(rejected.error, RequestRejectedError) and rejected.error.code == "EMPTY_FILE"
    assert rejected.attempts == 0 and rejected.http_status is None
    assert sum(r.ok for r in results) == 9
    assert rejected.request_id not in ocr_server.stats()["calls_by_request_id"]


def test_sync_on_result_and_a_failing_callback(
    ocr_server: RunningServer, docs: dict[str, Path]
) -> None:
    reqs = batch(docs, 12, "cbfail")
    delivered: list[str] = []

    def on_result(result: OCRResult) -> None:
        delivered.append(result.request_id)
        if len(delivered) == 2:
            raise OSError("disk full")

    with ClovaOCRClient(
        ocr_server.invoke_url(), ocr_server.secret, limits=Limits(max_concurrency=2)
    ) as client:
        with pytest.raises(OSError, match="disk full"):
            client.ocr_many(reqs, on_result=on_result)
        # The client is still usable afterwards.
        assert client.ocr(reqs[-1]).ok
    sent = [r.request_id for r in reqs if r.request_id in ocr_server.stats()["calls_by_request_id"]]
    assert 2 <= len(delivered) <= 3  # the in-flight one was still delivered
    assert set(delivered) <= set(sent) and len(sent) <= 4  # then nothing new was started
