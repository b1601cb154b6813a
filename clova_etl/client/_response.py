"""What the service answered: an OCR result, or an error classified by its BODY code."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from clova_etl.client._exceptions import (
    ERROR_CODES,
    APIStatusError,
    ClovaOCRError,
    GatewayError,
    MalformedResponseError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from clova_etl.client._models import DOCUMENT_OCR_ERROR, ErrorBody, OCRResponse
from clova_etl.client._secret import Secret

__all__ = ["classify_error", "parse_error_body", "parse_response", "parse_retry_after"]

_MAX_ERRORS_SHOWN = 3
_EXCERPT = 120


def _loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "body"


def _describe(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    for err in errors:
        if err["type"] == DOCUMENT_OCR_ERROR:
            where = _loc(err["loc"])
            return f"Document OCR response ({where}.receipt) is not a General/Template OCR result"
    shown = "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in errors[:_MAX_ERRORS_SHOWN])
    more = len(errors) - _MAX_ERRORS_SHOWN
    suffix = f" (+{more} more)" if more > 0 else ""
    return f"response is not a General/Template OCR result: {shown}{suffix}"


def parse_response(
    body: bytes, *, request_id: str | None = None, status_code: int | None = 200
) -> OCRResponse:
    """Parse a 200 body into :class:`OCRResponse`, or raise a :class:`ResponseValidationError`.

    A body that is not JSON at all raises :class:`MalformedResponseError` (retryable: gateways
    emit truncated or HTML 200s); well-formed JSON of the wrong shape is terminal.
    """
    try:
        return OCRResponse.model_validate_json(body)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors(include_url=False)):
            excerpt = body[:_EXCERPT].decode("utf-8", "replace")
            raise MalformedResponseError(
                f"response body is not valid JSON ({len(body)} bytes, starts {excerpt!r})",
                request_id=request_id,
                status_code=status_code,
            ) from None
        raise ResponseValidationError(
            _describe(exc), request_id=request_id, status_code=status_code
        ) from None


def parse_error_body(body: bytes) -> ErrorBody | None:
    """The CLOVA error body ``{code, message, path, timestamp, traceId?}``, or None."""
    try:
        return ErrorBody.model_validate_json(body)
    except ValidationError:
        return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def classify_error(
    status_code: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    request_id: str | None,
    secret: Secret | None = None,
) -> ClovaOCRError:
    """The error for a non-200 answer (or a 200 carrying an error body), by body code first."""

    def clean(text: str | None) -> str | None:
        return secret.redact(text) if (secret and text) else text

    retry_after = parse_retry_after(headers.get("retry-after"))
    parsed = parse_error_body(body)
    if parsed is not None:
        cls: type[APIStatusError] | None = ERROR_CODES.get(parsed.code)
        if cls is None:
            cls = _by_status(status_code)
        return cls(
            clean(parsed.message),
            request_id=request_id,
            status_code=status_code,
            code=parsed.code,
            path=clean(parsed.path),
            trace_id=parsed.trace_id,
            retry_after=retry_after,
        )
    excerpt = clean(" ".join(body[:_EXCERPT].decode("utf-8", "replace").split()))
    if status_code >= 500:
        return GatewayError(
            f"HTTP {status_code} with a non-JSON body: {excerpt!r}",
            request_id=request_id,
            status_code=status_code,
            retry_after=retry_after,
        )
    cls = _by_status(status_code)
    return cls(
        f"HTTP {status_code} with a body that is no CLOVA error: {excerpt!r}",
        request_id=request_id,
        status_code=status_code,
        retry_after=retry_after,
    )


def _by_status(status_code: int) -> type[APIStatusError]:
    if status_code == 429:
        return RateLimitError
    if status_code >= 500:
        return ServerError
    return APIStatusError
