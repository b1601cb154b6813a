"""The pipeline's side of the OCR client: building clients and requests, reading results.

:func:`outcome` sorts a :class:`~clova_etl.client.OCRResult` into what the ledger does next:

===========  ============================================  ===================================
outcome      results                                       ledger action
===========  ============================================  ===================================
succeeded    a parsed General/Template answer              envelope in ``raw/`` (terminal)
failed       API rejection (0011, 0021, 0028, 1021…),      envelope in ``raw/`` (terminal)
             a 2xx that is no readable OCR result          (``unreadable_answer``: its bytes
                                                           kept under ``answers/``)
rejected     the client refused it before sending          envelope in ``rejected/``
transient    network, timeout, 5xx, throttling (0025)      nothing: pending, retried next run
             after the client's own retries
quota        0023, or not sent after a 0023                nothing: pending; the run stops
budget       a re-try the budget did not allow             nothing: pending; the run stops
config       0001 / 0002 / 0022 (URL, secret, domain)      nothing: pending; the run fails
===========  ============================================  ===================================

What each attempt cost is the ledger's business (:mod:`clova_etl.pipeline.attempts`).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Literal

import orjson
from pydantic import SecretStr

from clova_etl.client import (
    AttemptHooks,
    AttemptRefusedError,
    AuthenticationError,
    ClovaOCRClient,
    InvalidDomainError,
    InvalidURLError,
    Limits,
    OCRRequest,
    OCRResult,
    QuotaExceededError,
    RequestRejectedError,
    ResponseValidationError,
    RetryPolicy,
    Timeouts,
    Transport,
)
from clova_etl.config import OCRConfig
from clova_etl.envelope import CallRecord, RawEnvelope
from clova_etl.pipeline.errors import UNREADABLE_ANSWER, ConfigurationError
from clova_etl.pipeline.ledger.limits import SharedRateLimit
from clova_etl.pipeline.planner import PlannedRequest
from clova_etl.pipeline.storage import Storage

Outcome = Literal["succeeded", "failed", "rejected", "transient", "quota", "budget", "config"]

_RUN_STOPPING = (AuthenticationError, InvalidURLError, InvalidDomainError)


def outcome(result: OCRResult) -> Outcome:
    """What a result means for the ledger (see the module table)."""
    err = result.error
    if err is None:
        return "succeeded"
    if isinstance(err, QuotaExceededError):
        return "quota"
    if isinstance(err, AttemptRefusedError):
        return "budget"
    if isinstance(err, _RUN_STOPPING):
        return "config"
    if isinstance(err, RequestRejectedError):
        return "rejected"
    if isinstance(err, ResponseValidationError):
        # A 2xx that is no OCR result (non-JSON, Document OCR…) was billed: record it (bytes
        # kept) rather than pay again; only --force or ocr.resend_unreadable sends it again.
        return "failed"
    if err.retryable:
        return "transient"
    return "failed"


def build_clients(
    config: OCRConfig,
    *,
    hooks: AttemptHooks | None = None,
    store: Storage | None = None,
    executor: Executor | None = None,
) -> dict[str, ClovaOCRClient]:
    """One client per API (the same one when General and Template share a domain).

    ``hooks`` hear of every attempt (the ledger of charges); with a ``store``, the rate limit
    is the domain's total across every process sharing that store.
    """
    if not config.invoke_url or config.secret is None:
        raise ConfigurationError(
            "no OCR endpoint: set CLOVA_OCR_INVOKE_URL and CLOVA_OCR_SECRET (or ocr.invoke_url / "
            "ocr.secret in the configuration, or --invoke-url)"
        )

    def client(url: str, secret: SecretStr) -> ClovaOCRClient:
        rate = config.rate_limit_per_second
        # The shared schedule lets a tenth of a second's worth of calls start together: enough
        # to make up for a short stall, and a tenth of the burst the client's own token bucket
        # (and the local server) allow.
        shared = (
            SharedRateLimit(store, url, rate, burst=max(1, int(rate / 10)), executor=executor)
            if rate is not None and store is not None
            else None
        )
        return ClovaOCRClient(
            url,
            secret.get_secret_value(),
            timeouts=Timeouts(read=config.timeout_seconds),
            # An unreadable 2xx was billed: sent once more only when the user asked for it.
            retry=RetryPolicy(
                max_attempts=config.max_retries + 1,
                max_malformed_retries=1 if config.resend_unreadable else 0,
            ),
            limits=Limits(
                max_concurrency=config.concurrency,
                requests_per_second=rate,
                burst=max(1, int(rate or 1)),
            ),
            hooks=hooks,
            rate_limiter=shared,
        )

    general = client(config.invoke_url, config.secret)
    template_url = config.template_invoke_url or config.invoke_url
    template_secret = config.template_secret or config.secret
    if template_url == config.invoke_url and template_secret == config.secret:
        return {"general": general, "template": general}
    return {"general": general, "template": client(template_url, template_secret)}


def secrets_of(config: OCRConfig) -> list[str]:
    """The secret values that must never be written anywhere."""
    return [s.get_secret_value() for s in (config.secret, config.template_secret) if s]


def scrub(text: str | None, secrets: Iterable[str]) -> str | None:
    """``text`` with every secret value masked."""
    if text is None:
        return None
    for secret in secrets:
        if secret:
            text = text.replace(secret, "**********")
    return text


def ocr_request(req: PlannedRequest, document: bytes, transport: Transport) -> OCRRequest:
    """The client request for a planned request and its (chunk) bytes."""
    return OCRRequest(
        request_id=req.request_id,
        api=req.api,
        version=req.version,
        source=document,
        name=req.name,
        lang=req.lang,
        template_ids=tuple(req.template_ids) if req.template_ids else None,
        enable_table_detection=req.enable_table_detection,
        transport=transport,
    )


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def result_envelope(
    req: PlannedRequest,
    result: OCRResult,
    run_id: str,
    secrets: Iterable[str],
    *,
    status: Literal["succeeded", "failed", "rejected"],
    error_code: str | None = None,
    error_message: str | None = None,
    answer_uri: str | None = None,
) -> RawEnvelope:
    """The raw-store record of an answered (or client-rejected) request.

    ``answer_uri``: where the bytes of an answer that could not be read are kept.
    """
    err = result.error
    if isinstance(err, ResponseValidationError) and error_code is None:
        error_code = UNREADABLE_ANSWER
        kept = f"; the answer is kept as received at {answer_uri}" if answer_uri else ""
        error_message = (
            f"HTTP {result.http_status} answer that is no readable OCR result ({err.message})"
            f"{kept}; billed, so not sent again unless forced (--force, clova_ocr_force) or "
            "ocr.resend_unreadable is on"
        )
    response = None
    if status == "succeeded" and result.raw_body is not None:
        response = orjson.loads(result.raw_body)
    billable_pages = result.billable_pages if status == "succeeded" else 0
    return RawEnvelope(
        request_id=req.request_id,
        source=req.source_info(),
        options=req.options(),
        call=CallRecord(
            status=status,
            http_status=result.http_status,
            error_code=error_code or (err.code or type(err).__name__ if err else None),
            error_message=scrub(error_message or (err.message if err else None), secrets),
            attempts=result.attempts,
            billable=billable_pages > 0,
            billable_pages=billable_pages,
            pages_sent=result.pages_sent or req.pages,
            requested_at=_utc(result.requested_at),
            completed_at=_utc(result.completed_at),
            duration_ms=result.duration_ms,
            run_id=run_id,
            answer_uri=answer_uri,
        ),
        response=response,
    )


def rejected_envelope(
    req: PlannedRequest, run_id: str, code: str, message: str, *, at: datetime
) -> RawEnvelope:
    """The raw-store record of a request that was never sent (bad input)."""
    return RawEnvelope(
        request_id=req.request_id,
        source=req.source_info(),
        options=req.options(),
        call=CallRecord(
            status="rejected",
            error_code=code,
            error_message=message,
            attempts=0,
            pages_sent=req.pages,
            completed_at=at,
            run_id=run_id,
        ),
        response=None,
    )


__all__ = [
    "Outcome",
    "build_clients",
    "ocr_request",
    "outcome",
    "rejected_envelope",
    "result_envelope",
    "scrub",
    "secrets_of",
]
