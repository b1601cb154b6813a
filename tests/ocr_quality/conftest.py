"""Set-up of the OCR quality tests: the ``tesseract`` marker's rule and a helper to call the
server.

A test marked ``@pytest.mark.tesseract`` needs the tesseract binary with the kor, jpn, chi_tra
and eng models: outside CI it is skipped (with what is missing) when they are absent; in CI
(``CI=true``) it fails, since the project's set-up installs them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures.ocr_server import RunningServer
from tests.fixtures.shared import IN_CI

StartServer = Callable[..., RunningServer]


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or, in CI, fail) tesseract tests when the engine cannot run here."""
    if item.get_closest_marker("tesseract") is None:
        return
    from clova_etl.server.tesseract import tesseract_problem

    problem = tesseract_problem()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"CI must provide the tesseract engine: {problem}")
    pytest.skip(problem)


@pytest.fixture(scope="session")
def ocr_http() -> Iterator[httpx.Client]:
    """One keep-alive HTTP client for the quality tests (tesseract calls take ~1 s a page)."""
    with httpx.Client(timeout=120, trust_env=False) as client:
        yield client


def ocr_call(
    client: httpx.Client,
    server: RunningServer,
    fmt: str,
    data: bytes,
    *,
    api: str = "general",
    **extra: Any,
) -> dict[str, Any]:
    """POST one document as the client does (JSON, base64) and return the 200 answer's body."""
    image: dict[str, Any] = {"format": fmt, "name": "doc", "data": base64.b64encode(data).decode()}
    if "templateIds" in extra:
        image["templateIds"] = extra.pop("templateIds")
    message = {"version": "V2", "requestId": "q", "timestamp": 0, "images": [image], **extra}
    response = client.post(
        server.invoke_url(api), json=message, headers={"X-OCR-SECRET": server.secret}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
