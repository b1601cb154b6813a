"""Faults the local server cannot produce (a gateway's HTML pages, ``Retry-After``), through a
swapped httpx transport. Everything else is tested against the real server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from clova_etl.client import (
    ClovaOCRClient,
    GatewayError,
    OCRRequest,
    RateLimitError,
    RetryPolicy,
    TemplateNotDeployedError,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
BAD_GATEWAY = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body></body></html>"
GATEWAY_TIMEOUT = b"<html><body><h1>504 Gateway Time-out</h1></body></html>"


def scripted(answers: list[httpx.Response]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport answering ``answers`` in order, recording what it was sent."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[len(seen) - 1]

    return httpx.MockTransport(handler), seen


def test_gateway_html_pages_are_retried(corpus_files: dict[str, Path]) -> None:
    ok = corpus_files["maltepoo__bar-guni__general-receipt-kingmart"].read_bytes()
    transport, seen = scripted(
        [
            httpx.Response(502, content=BAD_GATEWAY, headers={"content-type": "text/html"}),
            httpx.Response(504, content=GATEWAY_TIMEOUT, headers={"content-type": "text/html"}),
            httpx.Response(200, content=ok, headers={"content-type": "application/json"}),
        ]
    )
    retry = RetryPolicy(max_attempts=3, backoff_base=0.001)
    with ClovaOCRClient(
        "https://h.example/custom/v1/1/s", "k", retry=retry, transport=transport
    ) as c:
        result = c.ocr(OCRRequest(request_id="g-1", source=PNG))
    assert result.ok and result.attempts == 3 and result.raw_body == ok  # bytes kept untouched
    assert [str(r.url) for r in seen] == ["https://h.example/custom/v1/1/s/general"] * 3
    assert all(r.headers["x-ocr-secret"] == "k" for r in seen)


def test_gateway_page_reported_when_retries_run_out() -> None:
    transport, _ = scripted([httpx.Response(504, content=GATEWAY_TIMEOUT)] * 2)
    retry = RetryPolicy(max_attempts=2, backoff_base=0.001)
    with ClovaOCRClient("https://h.example", "k", retry=retry, transport=transport) as c:
        result = c.ocr(OCRRequest(request_id="g-2", source=PNG), raise_on_error=False)
        assert isinstance(result.error, GatewayError) and result.error.status_code == 504
        assert "504 Gateway Time-out" in result.error.message and result.raw_body == GATEWAY_TIMEOUT


def test_retry_after_is_honoured() -> None:
    throttled = httpx.Response(
        400,
        json={"code": "0025", "message": "Calls to this api have exceeded the rate limit."},
        headers={"retry-after": "0.3"},
    )
    ok = httpx.Response(
        200,
        json={
            "version": "V2",
            "requestId": "t",
            "timestamp": 1,
            "images": [{"inferResult": "SUCCESS"}],
        },
    )
    transport, seen = scripted([throttled, ok])
    retry = RetryPolicy(max_attempts=2, backoff_base=0.001, backoff_cap=0.001)
    started = time.monotonic()
    with ClovaOCRClient("https://h.example", "k", retry=retry, transport=transport) as c:
        result = c.ocr(OCRRequest(request_id="t", source=PNG))
    assert result.ok and result.attempts == 2 and len(seen) == 2
    assert time.monotonic() - started >= 0.3


def test_throttle_error_keeps_retry_after_when_retries_run_out() -> None:
    throttled = httpx.Response(
        400, json={"code": "0025", "message": "m"}, headers={"retry-after": "7"}
    )
    transport, _ = scripted([throttled])
    with (
        ClovaOCRClient(
            "https://h.example", "k", retry=RetryPolicy(max_attempts=1), transport=transport
        ) as c,
        pytest.raises(RateLimitError) as info,
    ):
        c.ocr(OCRRequest(request_id="t", source=PNG))
    assert info.value.retry_after == 7.0 and info.value.retryable


def test_error_body_inside_a_200_is_classified() -> None:
    body = {"code": "1021", "message": "Not Found Deploy Info", "path": "/x/infer", "timestamp": 1}
    transport, _ = scripted([httpx.Response(200, json=body)])
    with ClovaOCRClient("https://h.example", "k", transport=transport) as c:
        result = c.ocr(OCRRequest(request_id="t", source=PNG, api="template"), raise_on_error=False)
    assert isinstance(result.error, TemplateNotDeployedError) and result.http_status == 200


def test_sync_client_refuses_to_run_inside_an_event_loop() -> None:
    client = ClovaOCRClient("https://h.example", "k")

    async def inside() -> None:
        with pytest.raises(RuntimeError, match="use AsyncClovaOCRClient"):
            client.ocr(OCRRequest(request_id="t", source=PNG))

    asyncio.run(inside())
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.ocr(OCRRequest(request_id="t", source=PNG))


def test_an_unforeseen_exception_fails_one_request_not_the_batch(
    corpus_files: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    ok = corpus_files["maltepoo__bar-guni__general-receipt-kingmart"].read_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        if b'"requestId":"boom"' in request.read():
            raise RuntimeError("transport bug")
        return httpx.Response(200, content=ok)

    reqs = [OCRRequest(request_id=r, source=PNG) for r in ("a", "boom", "c")]
    with ClovaOCRClient("https://h.example", "k", transport=httpx.MockTransport(handler)) as c:
        results = c.ocr_many(reqs)
    assert [r.ok for r in results] == [True, False, True]
    err = results[1].error
    assert err is not None and not err.retryable and "RuntimeError: transport bug" in err.message
    assert results[1].attempts == 1
    assert "ocr unexpected error request_id=boom" in caplog.text
