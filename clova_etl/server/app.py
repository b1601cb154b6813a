"""The Starlette application of the local CLOVA-compatible OCR server.

Routes: ``POST /custom/v1/{domain}/{signature}/general|infer`` (the invoke URL shape of the
service) and the short ``POST /general`` / ``POST /infer``; ``GET|DELETE /_stats`` and
``GET /_health`` are test-server endpoints that need no secret.

Checks run in this order, so one answer is always the same for the same call: path (0001) →
domain (0022) → secret (0002) → rate limit (0025) → body (0011/0021) → table detection
(0028) → templates (1021) → size (0011) → quota (0023) → injected failure (0500/0501) →
recognition (page limit 0011; unreadable image → image-level ERROR) → dropped / malformed.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread
import orjson
from starlette.applications import Starlette
from starlette.datastructures import Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clova_etl.formats import MULTI_PAGE_FORMATS
from clova_etl.server.config import ServerConfig
from clova_etl.server.documents import UnreadableDocument, iter_pages, open_document
from clova_etl.server.engine import Engine, RecognizeOptions
from clova_etl.server.engines import get_engine
from clova_etl.server.errors import ApiError, body_invalid, error_body
from clova_etl.server.faults import FaultPlan
from clova_etl.server.fetch import check_url, fetch_url
from clova_etl.server.request import Api, OcrRequest, parse_message, peek_request_id
from clova_etl.server.response import error_entry, image_entry, success_body
from clova_etl.server.stats import ServerStats

logger = logging.getLogger(__name__)

JSON_TYPE = "application/json;charset=UTF-8"
# Set by the runner's HTTP protocol so that a drop fault can cut the connection.
TRANSPORT_SCOPE_KEY = "clova_etl.transport"


@dataclass
class OcrServerState:
    """What the handlers share: settings, engine, counters, faults."""

    config: ServerConfig
    engine: Engine
    stats: ServerStats = field(default_factory=ServerStats)
    faults: FaultPlan = field(init=False)
    shared: Path | None = None
    """State file shared with the other worker processes (None: this process alone)."""

    def __post_init__(self) -> None:
        if self.shared is None:
            self.faults = FaultPlan(self.config)
        else:
            from clova_etl.server.shared import shared_state

            self.stats, self.faults = shared_state(self.config, self.shared)


def create_app(
    config: ServerConfig, engine: Engine | None = None, *, shared: Path | None = None
) -> Starlette:
    """The ASGI application serving ``config`` (``engine`` overrides ``config.engine``).

    ``shared``: the state file of a multi-process server (counters, rate limit, quota and
    fault sequence common to every worker; see :mod:`clova_etl.server.shared`).
    """
    state = OcrServerState(config=config, engine=engine or get_engine(config.engine), shared=shared)

    async def general(request: Request) -> Response:
        return await _ocr(request, state, "general")

    async def infer(request: Request) -> Response:
        return await _ocr(request, state, "template")

    async def stats(request: Request) -> Response:
        if request.method == "DELETE":
            state.stats.reset()
            state.faults.reset()
        body = state.stats.snapshot()
        body["config"] = config.public_dict()
        return _json(200, body)

    async def health(request: Request) -> Response:
        return _json(200, {"status": "ok", "engine": state.engine.name, "pid": os.getpid()})

    async def url_invalid(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        error = ApiError("0001", f"URL is invalid: {request.method} {request.url.path}")
        state.stats.answered(error.code)
        return _json(status, error_body(error, request.url.path))

    routes = [
        Route("/custom/v1/{domain}/{signature}/general", general, methods=["POST"]),
        Route("/custom/v1/{domain}/{signature}/infer", infer, methods=["POST"]),
        Route("/general", general, methods=["POST"]),
        Route("/infer", infer, methods=["POST"]),
        Route("/_stats", stats, methods=["GET", "DELETE"]),
        Route("/_health", health, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: url_invalid, 405: url_invalid})
    app.state.ocr = state
    return app


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON_TYPE)


async def _ocr(request: Request, state: OcrServerState, api: Api) -> Response:
    stats = state.stats
    stats.call()
    path = request.url.path
    try:
        return await _handle(request, state, api)
    except ApiError as error:
        stats.answered(error.code)
        return _json(error.status, error_body(error, path))
    except Exception:
        logger.exception("unexpected error while answering %s", path)
        unknown = ApiError("0500")
        stats.answered(unknown.code)
        return _json(unknown.status, error_body(unknown, path))


async def _handle(request: Request, state: OcrServerState, api: Api) -> Response:
    config, stats, faults = state.config, state.stats, state.faults
    domain = request.path_params.get("domain")
    if domain is not None and config.domains and domain not in config.domains:
        raise ApiError("0022", f"Request domain invalid: {domain!r} is not a configured domain")
    if not _secret_ok(request.headers.get("x-ocr-secret"), config.secret):
        raise ApiError("0002")

    # Read the body before the rate check only to count the requestId; its own errors wait.
    deferred: ApiError | None = None
    message: Any = None
    upload: bytes | None = None
    multipart = request.headers.get("content-type", "").lower().startswith("multipart/")
    try:
        message, upload = await _read_message(request, config, multipart=multipart)
    except ApiError as error:
        deferred = error
    if config.latency_ms:
        # The service's own time, once it holds the whole request: a client that goes away now
        # is still billed for the work, as it would be by the real service.
        await asyncio.sleep(config.latency_ms / 1000.0)
    request_id = peek_request_id(message)
    if request_id is not None:
        stats.request_id(request_id)
    if not faults.allow_rate():
        raise ApiError("0025")
    if deferred is not None:
        raise deferred

    req = parse_message(message, api, multipart=multipart)
    if api == "general" and req.table_detection and not config.table_detection:
        raise ApiError("0028", "Table detection is not enabled for this domain.")
    templates = _candidate_templates(req, config)
    data = await _image_bytes(req, upload, config)
    _check_size(req, len(data), config)

    if not faults.quota.reserve():
        raise ApiError("0023")
    billed = False
    try:
        decided = faults.decide()
        if decided.failure is not None:
            raise ApiError(decided.failure)
        images, pages = await anyio.to_thread.run_sync(
            _recognize, req, data, state.engine, config, templates
        )
        billed = pages > 0
    finally:
        if not billed:
            faults.quota.release()
    if billed:
        stats.billed(req.request_id, pages)

    body = orjson.dumps(success_body(req, images))
    if decided.drop:
        stats.dropped()
        return await _drop(request)
    if decided.malformed:
        stats.malformed()
        # Cut mid-document: valid HTTP, invalid JSON, as a proxy cutting a body would.
        body = body[: max(1, len(body) // 2)]
    stats.answered("200")
    return Response(body, status_code=200, media_type=JSON_TYPE)


def _secret_ok(given: str | None, expected: str) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise body_invalid(f"request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise body_invalid(f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_message(
    request: Request, config: ServerConfig, *, multipart: bool
) -> tuple[Any, bytes | None]:
    body = await _read_body(request, config.max_request_bytes)
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("application/x-www-form-urlencoded"):
        raise body_invalid("form bodies must be multipart/form-data (message + file)")
    if not multipart:
        if not body:
            raise body_invalid("the body is empty")
        try:
            return json.loads(body), None
        except (ValueError, UnicodeDecodeError):
            raise body_invalid("the body is not valid JSON") from None
    return await _read_multipart(request.headers, body)


async def _read_multipart(headers: Headers, body: bytes) -> tuple[Any, bytes]:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield body
        yield b""

    parser = MultiPartParser(headers, stream(), max_files=4, max_fields=16)
    try:
        form = await parser.parse()
    except (MultiPartException, ValueError, AssertionError) as exc:
        raise body_invalid(f"the multipart body cannot be parsed: {exc}") from None
    try:
        messages = form.getlist("message")
        files = [f for f in form.getlist("file") if isinstance(f, UploadFile)]
        if len(messages) != 1:
            raise body_invalid("the multipart body needs exactly one 'message' part")
        if not files:
            if form.getlist("file"):
                raise body_invalid("the 'file' part must be a file upload (with a filename)")
            raise body_invalid("the multipart body needs a 'file' part")
        if len(files) > 1:
            raise body_invalid(f"only one image is accepted per request, got {len(files)} files")
        raw = messages[0]
        text = raw if isinstance(raw, str) else (await raw.read()).decode("utf-8", "replace")
        try:
            message = json.loads(text)
        except ValueError:
            raise body_invalid("the 'message' part is not valid JSON") from None
        data = await files[0].read()
        if not data:
            raise body_invalid("the 'file' part is empty")
        return message, data
    finally:
        await form.close()


def _candidate_templates(req: OcrRequest, config: ServerConfig) -> dict[int, str]:
    if req.api != "template":
        return {}
    deployed = config.templates
    wanted = req.image.template_ids
    chosen = dict(deployed) if wanted is None else {i: deployed[i] for i in wanted if i in deployed}
    if not chosen:
        asked = "none deployed" if wanted is None else f"templateIds {list(wanted)}"
        raise ApiError(
            "1021", f"Not Found Deploy Info ({asked}). Confirm the template is released."
        )
    return chosen


async def _image_bytes(req: OcrRequest, upload: bytes | None, config: ServerConfig) -> bytes:
    if upload is not None:
        return upload
    if req.image.data is not None:
        return req.image.data
    assert req.image.url is not None  # parse_message guarantees data or url
    url = check_url(req.image.url, config.allow_url_hosts)
    return await fetch_url(
        url, max_bytes=_size_limit(req, config), timeout=config.url_fetch_timeout
    )


def _size_limit(req: OcrRequest, config: ServerConfig) -> int:
    if req.api == "general":
        return config.general_max_bytes
    if req.image.format in MULTI_PAGE_FORMATS:
        return config.template_max_document_bytes
    return config.template_max_bytes


def _check_size(req: OcrRequest, size: int, config: ServerConfig) -> None:
    limit = _size_limit(req, config)
    if size > limit:
        raise body_invalid(
            f"image is {size} bytes; the {req.api} API accepts {req.image.format.upper()} "
            f"up to {limit} bytes"
        )


def _page_limit(req: OcrRequest, config: ServerConfig) -> int:
    return config.general_max_pages if req.api == "general" else config.template_max_pages


def _recognize(
    req: OcrRequest,
    data: bytes,
    engine: Engine,
    config: ServerConfig,
    templates: dict[int, str],
) -> tuple[list[dict[str, Any]], int]:
    """The ``images[]`` entries and the number of charged pages (runs in a worker thread)."""
    try:
        document = open_document(data, req.image.format)
    except UnreadableDocument as exc:
        return [error_entry(req, str(exc))], 0
    limit = _page_limit(req, config)
    if document.page_count > limit:
        raise body_invalid(
            f"document has {document.page_count} pages; the {req.api} API accepts up to {limit}"
        )
    options = RecognizeOptions(
        api=req.api,
        version=req.version,
        lang=req.lang,
        table_detection=req.table_detection,
        templates=templates,
    )
    multi_page = document.format in MULTI_PAGE_FORMATS
    images: list[dict[str, Any]] = []
    charged = 0
    try:
        decode = getattr(engine, "reads_pixels", True)
        for page in iter_pages(document, pdf_dpi=config.pdf_dpi, decode=decode):
            try:
                result = engine.recognize(page, options)
            except Exception as exc:
                logger.exception("engine %s failed on page %d", engine.name, page.index)
                raise ApiError("0501") from exc
            converted = (
                {"width": page.width, "height": page.height, "pageIndex": page.index}
                if multi_page
                else None
            )
            images.append(image_entry(req, result, converted=converted))
            if result.infer_result != "ERROR":
                charged += 1
    except UnreadableDocument as exc:
        images.append(error_entry(req, str(exc)))
    return images, charged


async def _drop(request: Request) -> Response:
    """Close the connection without an answer (needs the runner's HTTP protocol)."""
    transport = request.scope.get(TRANSPORT_SCOPE_KEY)
    if transport is None:
        raise RuntimeError("drop fault needs the clova-etl runner (no transport in scope)")
    transport.abort()
    # Let the protocol see the connection loss, so the server does not answer 500 instead.
    for _ in range(3):
        await asyncio.sleep(0)
    return Response(b"", status_code=200)
