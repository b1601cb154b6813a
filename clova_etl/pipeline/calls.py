"""The pipeline's side of the OCR client: building clients and requests, reading results.

:func:`outcome` sorts a :class:`~clova_etl.client.OCRResult` into what the ledger does next:

===========  ============================================  ===================================
outcome      results                                       ledger action
===========  ============================================  ===================================
succeeded    a parsed General/Template answer              envelope in ``raw/`` (terminal)
failed       API rejection (0011, 0021, 0028, 1021…),      envelope in ``raw/`` (terminal)
             a 200 that is no OCR result (malformed)
rejected     the client refused it before sending          envelope in ``rejected/``
transient    network, timeout, 5xx, throttling (0025)      nothing: pending, retried next run
             after the client's own retries
quota        0023, or not sent after a 0023                nothing: pending; the run stops
config       0001 / 0002 / 0022 (URL, secret, domain)      nothing: pending; the run fails
===========  ============================================  ===================================
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

import orjson
from pydantic import SecretStr

from clova_etl.client import (
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
from clova_etl.pipeline.errors import ConfigurationError
from clova_etl.pipeline.planner import PlannedRequest

Outcome = Literal["succeeded", "failed", "rejected", "transient", "quota", "config"]

_RUN_STOPPING = (AuthenticationError, InvalidURLError, InvalidDomainError)


def outcome(result: OCRResult) -> Outcome:
    """What a result means for the ledger (see the module table)."""
    err = result.error
    if err is None:
        return "succeeded"
    if isinstance(err, QuotaExceededError):
        return "quota"
    if isinstance(err, _RUN_STOPPING):
        return "config"
    if isinstance(err, RequestRejectedError):
        return "rejected"
    if isinstance(err, ResponseValidationError):
        # A 200 that is no OCR result (non-JSON, Document OCR…) may have been billed already:
        # the client's bounded retries were the last chance, record it rather than pay again.
        return "failed"
    if err.retryable:
        return "transient"
    return "failed"


def build_clients(config: OCRConfig) -> dict[str, ClovaOCRClient]:
    """One client per API (the same one when General and Template share a domain)."""
    if not config.invoke_url or config.secret is None:
        raise ConfigurationError(
            "no OCR endpoint: set CLOVA_OCR_INVOKE_URL and CLOVA_OCR_SECRET (or ocr.invoke_url / "
            "ocr.secret in the configuration, or --invoke-url)"
        )

    def client(url: str, secret: SecretStr) -> ClovaOCRClient:
        return ClovaOCRClient(
            url,
            secret.get_secret_value(),
            timeouts=Timeouts(read=config.timeout_seconds),
            retry=RetryPolicy(max_attempts=config.max_retries + 1),
            limits=Limits(
                max_concurrency=config.concurrency,
                requests_per_second=config.rate_limit_per_second,
                burst=max(1, int(config.rate_limit_per_second or 1)),
            ),
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
) -> RawEnvelope:
    """The raw-store record of an answered (or client-rejected) request."""
    err = result.error
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
