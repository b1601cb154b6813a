"""The client against the local CLOVA-compatible server over real HTTP: APIs, versions,
transports, invoke URL shapes and every error code the service answers."""

from __future__ import annotations

import asyncio
import functools
import http.server
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from clova_etl.client import (
    AsyncClovaOCRClient,
    AuthenticationError,
    BadRequestError,
    ClovaOCRClient,
    ClovaOCRError,
    ConnectionDroppedError,
    ConnectionFailedError,
    InvalidDomainError,
    InvalidURLError,
    MalformedResponseError,
    OCRRequest,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    TableDetectionNotEnabledError,
    TemplateNotDeployedError,
    Timeouts,
    UnsupportedVersionError,
)
from clova_etl.server import RunningServer

StartServer = Callable[..., RunningServer]
FAST = RetryPolicy(max_attempts=3, backoff_base=0.005, backoff_cap=0.02)
ONCE = RetryPolicy(max_attempts=1)


def rid(label: str = "r") -> str:
    """A request id unique to this test run (the session server's counters are shared)."""
    return f"{label}-{uuid.uuid4()}"


@pytest.mark.parametrize("transport", ["multipart", "json"])
@pytest.mark.parametrize("version", ["V1", "V2"])
@pytest.mark.parametrize("api", ["general", "template"])
def test_apis_versions_and_transports(
    ocr_server: RunningServer, docs: dict[str, Path], transport: str, version: str, api: str
) -> None:
    request_id = rid(f"{api}-{version}-{transport}")
    req = OCRRequest(
        request_id=request_id,
        api=api,
        version=version,
        source=docs["png"],
        transport=transport,
        lang="ko,ja",
    )
    with ClovaOCRClient(ocr_server.invoke_url(api), ocr_server.secret, retry=ONCE) as client:
        result = client.ocr(req)
    assert result.ok and result.http_status == 200 and result.attempts == 1
    response = result.response
    assert response is not None
    assert response.version == version and response.request_id == request_id
    assert len(response.images) == 1 and response.images[0].name == "png.png"
    # Blank page: General finds no words, Template matches no template; both are billed.
    assert response.images[0].infer_result == ("SUCCESS" if api == "general" else "FAILURE")
    assert result.billable_pages == 1 and result.pages_sent == 1
    assert result.raw_body is not None
    assert orjson.loads(result.raw_body)["requestId"] == request_id
    assert result.duration_ms >= 0 and result.completed_at >= result.requested_at
    assert ocr_server.stats()["calls_by_request_id"][request_id] == 1


def test_multi_page_pdf_and_tiff(ocr_server: RunningServer, docs: dict[str, Path]) -> None:
    with ClovaOCRClient(ocr_server.invoke_url(), ocr_server.secret) as client:
        pdf = client.ocr(OCRRequest(request_id=rid(), source=docs["pdf"]))
        tiff = client.ocr(OCRRequest(request_id=rid(), source=docs["tiff"], transport="json"))
    assert pdf.response is not None and tiff.response is not None
    assert [i.converted_image_info.page_index for i in pdf.response.images] == [0, 1]  # type: ignore[union-attr]
    assert pdf.billable_pages == 2 and pdf.pages_sent == 2
    assert len(tiff.response.images) == 3 and tiff.billable_pages == 3


@pytest.mark.parametrize("shape", ["console", "general-suffix", "infer-suffix", "plain-base"])
def test_invoke_url_shapes_reach_both_apis(
    ocr_server: RunningServer, docs: dict[str, Path], shape: str
) -> None:
    console = ocr_server.invoke_url().removesuffix("/general")
    url = {
        "console": console,
        "general-suffix": console + "/general",
        "infer-suffix": console + "/infer",
        "plain-base": ocr_server.base_url,
    }[shape]
    with ClovaOCRClient(url, ocr_server.secret, retry=ONCE) as client:
        general = client.ocr(OCRRequest(request_id=rid(), source=docs["jpg"]))
        template = client.ocr(OCRRequest(request_id=rid(), source=docs["jpg"], api="template"))
    assert general.response is not None and template.response is not None
    assert general.response.images[0].infer_result == "SUCCESS"
    assert template.response.images[0].infer_result == "FAILURE"


def test_async_client(ocr_server: RunningServer, docs: dict[str, Path]) -> None:
    async def main() -> list[str]:
        async with AsyncClovaOCRClient(ocr_server.invoke_url(), ocr_server.secret) as client:
            results = await asyncio.gather(
                *(client.ocr(OCRRequest(request_id=rid(), source=docs["png"])) for _ in range(5))
            )
        return [r.response.images[0].infer_result for r in results if r.response]

    assert asyncio.run(main()) == ["SUCCESS"] * 5


# -- error codes over real HTTP -------------------------------------------------------------


def _fail(url: str, secret: str, req: OCRRequest, retry: RetryPolicy = FAST) -> ClovaOCRError:
    with ClovaOCRClient(url, secret, retry=retry) as client:
        result = client.ocr(req, raise_on_error=False)
        assert result.error is not None and result.response is None
        with pytest.raises(type(result.error)) as info:
            client.ocr(req)
    assert result.raw_body is not None and result.http_status is not None
    body = orjson.loads(result.raw_body)
    assert body["code"] == result.error.code and body["path"] == result.error.path
    assert result.error.trace_id == body["traceId"]
    assert result.error.request_id == req.request_id
    assert info.value.code == result.error.code
    return result.error


def test_0002_wrong_secret(ocr_server: RunningServer, docs: dict[str, Path]) -> None:
    req = OCRRequest(request_id=rid(), source=docs["png"])
    err = _fail(ocr_server.invoke_url(), "not-the-secret", req)
    assert isinstance(err, AuthenticationError) and err.code == "0002" and err.status_code == 401
    # Terminal: one call per ocr(), never retried.
    assert ocr_server.stats()["responses_by_code"]["0002"] >= 2


def test_0001_invalid_url(ocr_server: RunningServer, docs: dict[str, Path]) -> None:
    url = f"{ocr_server.base_url}/custom/v1/1234"  # the signature segment is missing
    err = _fail(url, ocr_server.secret, OCRRequest(request_id=rid(), source=docs["png"]))
    assert isinstance(err, InvalidURLError) and err.code == "0001" and err.status_code == 404
    assert not err.retryable


def test_0022_invalid_domain(start_ocr_server: StartServer, docs: dict[str, Path]) -> None:
    server = start_ocr_server(domains=frozenset({"1234"}))
    req = OCRRequest(request_id=rid(), source=docs["png"])
    err = _fail(server.invoke_url(domain="999"), server.secret, req)
    assert isinstance(err, InvalidDomainError) and err.code == "0022"
    assert server.stats()["total_calls"] == 2


def test_0011_request_body_invalid(ocr_server: RunningServer, docs: dict[str, Path]) -> None:
    # model_construct skips our own validation, so the server is the one that refuses.
    req = OCRRequest.model_construct(request_id=rid(), source=docs["png"].read_bytes(), lang="en")
    err = _fail(ocr_server.invoke_url(), ocr_server.secret, req)
    assert type(err) is BadRequestError and err.code == "0011" and "lang" in err.message


def test_0021_version_not_supported(ocr_server: RunningServer, docs: dict[str, Path]) -> None:
    fields = {"request_id": rid(), "source": docs["png"].read_bytes(), "version": "V3"}
    req = OCRRequest.model_construct(**fields)  # type: ignore[arg-type]
    err = _fail(ocr_server.invoke_url(), ocr_server.secret, req)
    assert isinstance(err, UnsupportedVersionError) and err.code == "0021"


def test_0028_table_detection_not_enabled(
    start_ocr_server: StartServer, docs: dict[str, Path]
) -> None:
    server = start_ocr_server(table_detection=False)
    req = OCRRequest(request_id=rid(), source=docs["png"], enable_table_detection=True)
    err = _fail(server.invoke_url(), server.secret, req)
    assert isinstance(err, TableDetectionNotEnabledError) and err.code == "0028"
    assert server.stats()["total_calls"] == 2  # terminal: not retried


def test_1021_template_not_deployed(ocr_server: RunningServer, docs: dict[str, Path]) -> None:
    req = OCRRequest(request_id=rid(), source=docs["png"], api="template", template_ids=[987654])
    err = _fail(ocr_server.invoke_url("template"), ocr_server.secret, req)
    assert isinstance(err, TemplateNotDeployedError) and err.code == "1021"


def test_0500_0501_are_retried_then_reported(
    start_ocr_server: StartServer, docs: dict[str, Path]
) -> None:
    server = start_ocr_server(fail_rate=1.0, seed=3)
    reqs = [OCRRequest(request_id=rid(), source=docs["png"]) for _ in range(4)]
    with ClovaOCRClient(server.invoke_url(), server.secret, retry=FAST) as client:
        results = client.ocr_many(reqs)
    codes = {r.error.code for r in results if r.error}
    assert codes == {"0500", "0501"}
    assert all(isinstance(r.error, ServerError) and r.attempts == 3 for r in results)
    stats = server.stats()
    assert stats["total_calls"] == 12 and stats["billable_calls"] == 0
    assert all(stats["calls_by_request_id"][r.request_id] == 3 for r in results)


def test_malformed_200_is_retried_a_bounded_number_of_times(
    start_ocr_server: StartServer, docs: dict[str, Path]
) -> None:
    server = start_ocr_server(malformed_rate=1.0)
    retry = RetryPolicy(max_attempts=5, backoff_base=0.005, max_malformed_retries=1)
    req = OCRRequest(request_id=rid(), source=docs["png"])
    with ClovaOCRClient(server.invoke_url(), server.secret, retry=retry) as client:
        result = client.ocr(req, raise_on_error=False)
    assert isinstance(result.error, MalformedResponseError) and result.error.retryable
    assert result.attempts == 2 and result.http_status == 200
    assert result.raw_body is not None and result.raw_body.startswith(b'{"version"')
    stats = server.stats()
    assert stats["malformed_responses"] == 2 and stats["billable_calls"] == 2


def test_dropped_connection_is_transient(
    start_ocr_server: StartServer, docs: dict[str, Path]
) -> None:
    server = start_ocr_server(drop_rate=1.0)
    req = OCRRequest(request_id=rid(), source=docs["png"])
    with ClovaOCRClient(server.invoke_url(), server.secret, retry=FAST) as client:
        result = client.ocr(req, raise_on_error=False)
    assert isinstance(result.error, ConnectionDroppedError) and result.error.retryable
    assert result.attempts == 3 and result.http_status is None and result.raw_body is None
    assert result.error.__cause__ is None  # the httpx error (and its request) is not kept
    assert server.stats()["dropped_connections"] == 3


def test_read_timeout(start_ocr_server: StartServer, docs: dict[str, Path]) -> None:
    server = start_ocr_server(latency_ms=400)
    retry = RetryPolicy(max_attempts=2, backoff_base=0.005)
    req = OCRRequest(request_id=rid(), source=docs["png"])
    with ClovaOCRClient(
        server.invoke_url(), server.secret, retry=retry, timeouts=Timeouts(read=0.05)
    ) as client:
        result = client.ocr(req, raise_on_error=False)
        with pytest.raises(RequestTimeoutError, match="ReadTimeout"):
            client.ocr(req)
    assert isinstance(result.error, RequestTimeoutError) and result.attempts == 2


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    req = OCRRequest(request_id=rid(), source=b"\x89PNG\r\n\x1a\n....")
    with ClovaOCRClient(f"http://127.0.0.1:{port}", "s", retry=FAST) as client:
        result = client.ocr(req, raise_on_error=False)
    assert isinstance(result.error, ConnectionFailedError) and result.attempts == 3


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_url_source(start_ocr_server: StartServer, docs: dict[str, Path]) -> None:
    handler = functools.partial(_QuietHandler, directory=str(docs["png"].parent))
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=files.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{files.server_address[1]}/jpg.jpg"
        req = OCRRequest(request_id=rid(), url=url, format="jpeg", transport="json")
        allowed = start_ocr_server(allow_url_hosts=frozenset({"127.0.0.1"}))
        with ClovaOCRClient(allowed.invoke_url(), allowed.secret) as client:
            result = client.ocr(req)
        assert result.response is not None and result.response.images[0].infer_result == "SUCCESS"
        assert result.pages_sent is None  # nothing to count: the service fetches the URL
        refusing = start_ocr_server()
        err = _fail(refusing.invoke_url(), refusing.secret, req)
        assert type(err) is BadRequestError and "allow-list" in err.message
    finally:
        files.shutdown()
        files.server_close()
