"""Fault injection (rate limit, quota, failures, malformed, dropped, latency) and /_stats."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from clova_etl.server.faults import TokenBucket
from tests.fixtures.ocr_server import RunningServer
from tests.server.helpers import assert_error, blank_png, message, post_json

PNG = blank_png()
StartServer = Callable[..., RunningServer]


def _codes(server: RunningServer, n: int, prefix: str = "call") -> list[str]:
    out = []
    for i in range(n):
        r = post_json(server, message("png", data=PNG, request_id=f"{prefix}-{i}"))
        out.append("200" if r.status_code == 200 else r.json()["code"])
    return out


def test_rate_limit_answers_0025_beyond_the_rate(start_ocr_server: StartServer) -> None:
    # One token per 100 s (burst 1): no token can refill during the test, however slowly a
    # loaded machine serves the calls (the refill is checked on a test clock below).
    server = start_ocr_server(rate_limit=0.01)
    codes = _codes(server, 6)
    assert codes == ["200"] + ["0025"] * 5
    r = post_json(server, message("png", data=PNG))
    body = assert_error(r, 400, "0025")
    assert "rate limit" in body["message"]
    stats = server.stats()
    assert stats["responses_by_code"] == {"200": 1, "0025": 6}
    assert stats["billable_calls"] == 1
    # Throttled calls still count per requestId: a client retry is visible.
    assert stats["calls_by_request_id"]["call-3"] == 1
    assert "call-3" not in stats["billable_by_request_id"]


def test_the_rate_limit_refills_a_token_every_1_over_rate_seconds() -> None:
    now = [100.0]
    bucket = TokenBucket(2.0, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [True, True, False]  # burst = max(1, rate)
    now[0] += 0.4
    assert not bucket.take()  # 0.8 of a token
    now[0] += 0.1
    assert bucket.take()  # one token refills in 0.5 s
    assert not bucket.take()
    now[0] += 60.0
    assert [bucket.take() for _ in range(3)] == [True, True, False]  # saved up to the burst only


def test_quota_answers_0023_after_n_billable_calls(start_ocr_server: StartServer) -> None:
    server = start_ocr_server(quota=2)
    # An ERROR image is not charged, so it does not use the quota.
    bad = post_json(server, message("png", data=b"these bytes are no image at all"))
    assert bad.json()["images"][0]["inferResult"] == "ERROR"
    assert _codes(server, 4) == ["200", "200", "0023", "0023"]
    body = assert_error(post_json(server, message("png", data=PNG)), 400, "0023")
    assert body["message"] == "API request count reach the upper limit."
    assert server.stats()["billable_calls"] == 2
    server.reset_stats()  # DELETE /_stats also refills the quota
    assert _codes(server, 1) == ["200"]


def test_fail_rate_is_seeded_and_close_to_the_rate(start_ocr_server: StartServer) -> None:
    first = _codes(start_ocr_server(fail_rate=0.3, seed=7), 60)
    second = _codes(start_ocr_server(fail_rate=0.3, seed=7), 60)
    assert first == second  # same seed, same call order, same faults
    failures = [c for c in first if c != "200"]
    assert set(failures) <= {"0500", "0501"}
    assert 8 <= len(failures) <= 30  # 18 expected; binomial bounds far beyond 3 sigma
    other = _codes(start_ocr_server(fail_rate=0.3, seed=8), 60)
    assert other != first


def test_fail_rate_one_fails_every_call_with_500(start_ocr_server: StartServer) -> None:
    server = start_ocr_server(fail_rate=1.0, seed=1)
    responses = [post_json(server, message("png", data=PNG)) for _ in range(12)]
    assert {r.status_code for r in responses} == {500}
    codes = Counter(r.json()["code"] for r in responses)
    assert set(codes) == {"0500", "0501"}
    stats = server.stats()
    assert stats["billable_calls"] == 0
    assert stats["responses_by_code"] == {k: v for k, v in codes.items()}


def test_reset_restarts_the_fault_sequence(start_ocr_server: StartServer) -> None:
    server = start_ocr_server(fail_rate=0.5, seed=3)
    first = _codes(server, 20)
    server.reset_stats()
    assert _codes(server, 20) == first


def test_malformed_answer_is_200_with_broken_json(start_ocr_server: StartServer) -> None:
    server = start_ocr_server(malformed_rate=1.0)
    r = post_json(server, message("png", data=PNG, request_id="m-1"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.content.startswith(b'{"version":"V2"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    stats = server.stats()
    assert stats["malformed_responses"] == 1
    assert stats["billable_by_request_id"] == {"m-1": 1}  # computed, so charged


def test_dropped_connection_gets_no_answer(start_ocr_server: StartServer) -> None:
    server = start_ocr_server(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        post_json(server, message("png", data=PNG, request_id="d-1"))
    stats = server.stats()
    assert stats["dropped_connections"] == 1
    assert stats["responses_by_code"] == {"dropped": 1}
    # The drop happens after recognition: the worst case for a client (charged, no answer).
    assert stats["billable_by_request_id"] == {"d-1": 1}
    assert server.running


def test_drop_rate_partial(start_ocr_server: StartServer) -> None:
    server = start_ocr_server(drop_rate=0.5, seed=11)
    outcomes = []
    for i in range(20):
        try:
            r = post_json(server, message("png", data=PNG, request_id=f"p-{i}"))
            outcomes.append(r.status_code)
        except httpx.RemoteProtocolError:
            outcomes.append(0)
    dropped = outcomes.count(0)
    assert 3 <= dropped <= 17
    assert server.stats()["dropped_connections"] == dropped


def test_latency_does_not_block_other_calls(start_ocr_server: StartServer) -> None:
    # A long latency against a loose bound: served one at a time, 10 calls take 10 x 2 s;
    # concurrently about 2 s. Bounding at half the serial time leaves 8 s for a loaded 2-core
    # machine's scheduling noise (tenths of a second per call) and still fails if calls are
    # serialised (the latency's lower bound is safe: a sleep never ends early).
    latency, calls = 2.0, 10
    server = start_ocr_server(latency_ms=int(latency * 1000))
    start = time.perf_counter()
    assert post_json(server, message("png", data=PNG)).status_code == 200
    assert time.perf_counter() - start >= latency

    def call(i: int) -> httpx.Response:
        with httpx.Client(timeout=60) as http:  # one client per thread (see helpers.client)
            return post_json(server, message("png", data=PNG, request_id=f"c{i}"), http=http)

    start = time.perf_counter()
    with ThreadPoolExecutor(calls) as pool:
        statuses = list(pool.map(call, range(calls)))
    elapsed = time.perf_counter() - start
    assert [r.status_code for r in statuses] == [200] * calls
    assert latency <= elapsed < calls * latency / 2, elapsed


def test_concurrent_pdf_calls(ocr_server: RunningServer, sample_docs: dict[str, Path]) -> None:
    data = sample_docs["contract-3p"].read_bytes()
    before = ocr_server.stats()

    def call(i: int) -> httpx.Response:
        with httpx.Client(timeout=30) as http:  # one client per thread (see helpers.client)
            body = message("pdf", data=data, request_id=f"pdf-par-{i}")
            return post_json(ocr_server, body, http=http)

    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(call, range(8)))
    assert all(r.status_code == 200 for r in responses)
    assert all(len(r.json()["images"]) == 3 for r in responses)
    after = ocr_server.stats()
    assert after["billable_calls"] - before["billable_calls"] == 8
    assert after["billable_pages"] - before["billable_pages"] == 24
    assert all(after["calls_by_request_id"][f"pdf-par-{i}"] == 1 for i in range(8))


def test_stats_counts_and_reset(
    start_ocr_server: StartServer, sample_docs: dict[str, Path]
) -> None:
    server = start_ocr_server()
    pdf = sample_docs["contract-3p"].read_bytes()
    post_json(server, message("pdf", data=pdf, request_id="a"))
    post_json(server, message("pdf", data=pdf, request_id="a"))  # a retry: charged again
    post_json(server, message("png", data=PNG, request_id="b", version="V5"))
    post_json(server, message("png", data=PNG, request_id="c"), secret="bad")
    post_json(server, "{broken")
    stats = server.stats()
    assert stats["total_calls"] == 5
    assert stats["billable_calls"] == 2
    assert stats["billable_pages"] == 6
    assert stats["calls_by_request_id"] == {"a": 2, "b": 1}  # no body read without the secret
    assert stats["billable_by_request_id"] == {"a": 2}
    assert stats["responses_by_code"] == {"200": 2, "0021": 1, "0002": 1, "0011": 1}
    assert "secret" not in json.dumps(stats["config"]).lower()
    server.reset_stats()
    stats = server.stats()
    assert stats["total_calls"] == 0 and stats["responses_by_code"] == {}


def test_stats_need_no_secret(ocr_server: RunningServer) -> None:
    r = httpx.get(f"{ocr_server.base_url}/_stats")
    assert r.status_code == 200
    assert {"total_calls", "billable_calls", "billable_pages", "responses_by_code"} <= set(r.json())
    assert httpx.get(f"{ocr_server.base_url}/_health").json()["status"] == "ok"
