"""The X-OCR-SECRET never appears in logs, errors, reprs or pickles."""

from __future__ import annotations

import logging
import pickle
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from clova_etl.client import (
    AsyncClovaOCRClient,
    ClovaOCRClient,
    Limits,
    OCRRequest,
    RetryPolicy,
    Secret,
    Timeouts,
)
from clova_etl.server import RunningServer

SECRET = "sk-live-9f8e7d6c5b4a-DO-NOT-LEAK"
WRONG = "sk-wrong-0a1b2c3d-ALSO-SECRET"


def test_secret_wrapper() -> None:
    s = Secret(SECRET)
    assert SECRET not in repr(s) + str(s) + f"{s}" + f"{s!r}"
    assert s.get_secret_value() == SECRET and Secret(s) == s
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(s)
    with pytest.raises(ValueError):
        Secret("  ")


def test_secret_never_leaks(
    start_ocr_server: Callable[..., RunningServer],
    docs: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = start_ocr_server(secret=SECRET, fail_rate=0.5, malformed_rate=0.2, seed=2)
    retry = RetryPolicy(max_attempts=4, backoff_base=0.005, backoff_cap=0.01)
    caplog.set_level(logging.DEBUG)  # root: httpx and httpcore debug lines included
    texts: list[str] = []
    blobs: list[bytes] = []
    with ClovaOCRClient(
        server.invoke_url(), SECRET, retry=retry, limits=Limits(max_concurrency=3)
    ) as good:
        texts += [repr(good), str(good), repr(good._async), repr(good._async.limits)]
        reqs = [
            OCRRequest(request_id=f"s-{uuid.uuid4()}", source=docs["png"], transport=t)
            for t in ("json", "multipart")
            for _ in range(4)
        ]
        results = good.ocr_many(reqs)
    with ClovaOCRClient(server.invoke_url(), WRONG, retry=retry) as bad:
        texts.append(repr(bad))
        results += bad.ocr_many(reqs[:2])
        with pytest.raises(Exception) as info:
            bad.ocr(reqs[0])
        texts += [str(info.value), repr(info.value), repr(info.getrepr())]
    slow = start_ocr_server(secret=SECRET, latency_ms=300)
    timeout_client = ClovaOCRClient(
        slow.invoke_url(), SECRET, retry=RetryPolicy(max_attempts=1), timeouts=Timeouts(read=0.05)
    )
    with timeout_client:
        results.append(timeout_client.ocr(reqs[0], raise_on_error=False))

    errors = [r.error for r in results if r.error is not None]
    assert {type(e).__name__ for e in errors} >= {"AuthenticationError", "RequestTimeoutError"}
    for r in results:
        texts.append(repr(r))
        blobs.append(r.raw_body or b"")
    for e in errors:
        texts += [str(e), repr(e), str(e.__dict__)]
        blobs.append(pickle.dumps(e))
        assert pickle.loads(pickle.dumps(e)).message == e.message
    texts += [rec.getMessage() for rec in caplog.records]
    texts.append(caplog.text)
    assert any("ocr retry" in t for t in texts)  # the debug and retry lines were captured
    for secret in (SECRET, WRONG):
        assert not [t for t in texts if secret in t]
        assert not [b for b in blobs if secret.encode() in b]


def test_async_client_repr_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOVA_OCR_SECRET", raising=False)
    monkeypatch.delenv("CLOVA_OCR_INVOKE_URL", raising=False)
    with pytest.raises(ValueError, match="CLOVA_OCR_INVOKE_URL and CLOVA_OCR_SECRET"):
        ClovaOCRClient.from_env()
    monkeypatch.setenv("CLOVA_OCR_INVOKE_URL", "https://x.apigw.ntruss.com/custom/v1/1/s/general")
    monkeypatch.setenv("CLOVA_OCR_SECRET", SECRET)
    client = AsyncClovaOCRClient.from_env()
    assert SECRET not in repr(client)
    assert repr(client) == (
        "AsyncClovaOCRClient(invoke_url='https://x.apigw.ntruss.com/custom/v1/1/s', "
        "secret=Secret('**********'))"
    )
