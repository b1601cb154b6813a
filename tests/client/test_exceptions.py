"""The error tree: classification by body code, retryability, str/repr, pickling."""

from __future__ import annotations

import pickle

import orjson
import pytest

import clova_etl.client as api
from clova_etl.client import (
    ERROR_CODES,
    APIStatusError,
    ClovaOCRError,
    GatewayError,
    QuotaExceededError,
    QuotaNotSentError,
    RateLimitError,
    Secret,
    ServerError,
    classify_error,
)

ALL_ERRORS = sorted(
    (obj for obj in vars(api).values() if isinstance(obj, type) and issubclass(obj, ClovaOCRError)),
    key=lambda cls: cls.__name__,
)


def _body(code: str, message: str = "msg", **extra: object) -> bytes:
    return orjson.dumps({"code": code, "message": message, "path": "/x/general", **extra})


@pytest.mark.parametrize(
    ("code", "status", "cls", "retryable"),
    [
        ("0001", 404, api.InvalidURLError, False),
        ("0002", 401, api.AuthenticationError, False),
        ("0011", 400, api.BadRequestError, False),
        ("0021", 400, api.UnsupportedVersionError, False),
        ("0022", 400, api.InvalidDomainError, False),
        ("0023", 400, api.QuotaExceededError, False),
        ("0025", 400, api.RateLimitError, True),
        ("0028", 400, api.TableDetectionNotEnabledError, False),
        ("0500", 500, api.ServerError, True),
        ("0501", 500, api.ServerError, True),
        ("1021", 400, api.TemplateNotDeployedError, False),
    ],
)
def test_classified_by_body_code(
    code: str, status: int, cls: type[APIStatusError], retryable: bool
) -> None:
    err = classify_error(status, _body(code, traceId="t-1"), {}, request_id="r1")
    assert type(err) is cls and ERROR_CODES[code] is cls
    assert err.retryable is retryable
    assert (err.code, err.status_code, err.request_id, err.trace_id) == (code, status, "r1", "t-1")
    assert err.path == "/x/general" and err.message == "msg"


def test_body_code_wins_over_status() -> None:
    # Throttling arrives as HTTP 400: a status-only client would call it terminal.
    assert isinstance(classify_error(400, _body("0025"), {}, request_id=None), RateLimitError)
    # A quota error is terminal even if some proxy turned it into a 5xx.
    err = classify_error(503, _body("0023"), {}, request_id=None)
    assert isinstance(err, QuotaExceededError) and not err.retryable


def test_unknown_codes_fall_back_to_status() -> None:
    assert type(classify_error(503, _body("9999"), {}, request_id=None)) is ServerError
    assert type(classify_error(429, _body("9999"), {}, request_id=None)) is RateLimitError
    err = classify_error(400, _body("9999"), {}, request_id=None)
    assert type(err) is APIStatusError and not err.retryable and err.code == "9999"


def test_non_json_gateway_pages() -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    err = classify_error(502, html, {"retry-after": "3"}, request_id="r")
    assert type(err) is GatewayError and err.retryable and err.code is None
    assert err.retry_after == 3.0 and "502 Bad Gateway" in err.message
    err4 = classify_error(403, b"Forbidden", {}, request_id="r")
    assert type(err4) is APIStatusError and not err4.retryable


def test_secret_echoed_by_the_server_is_masked() -> None:
    secret = Secret("s3cr3t-value")
    body = _body("0002", message="bad key s3cr3t-value", path="/p/s3cr3t-value")
    err = classify_error(401, body, {}, request_id="r", secret=secret)
    assert "s3cr3t-value" not in str(err) + repr(err) + (err.path or "")
    assert "**********" in err.message


def test_str_says_what_and_where() -> None:
    err = classify_error(400, _body("1021", "Not Found Deploy Info"), {}, request_id="r-5")
    text = str(err)
    assert text.startswith("[1021] Not Found Deploy Info (")
    assert "HTTP=400" in text and "request_id=r-5" in text
    assert str(QuotaNotSentError(request_id="r")).startswith("[QUOTA_NOT_SENT] not sent")
    assert api.AuthenticationError().message.startswith("secret key validation failed")


def test_quota_not_sent_is_a_quota_error() -> None:
    err = QuotaNotSentError(request_id="r")
    assert isinstance(err, QuotaExceededError) and not err.retryable and err.status_code is None


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
def test_every_error_pickles(cls: type[ClovaOCRError]) -> None:
    err = cls(
        "boom",
        request_id="rid",
        status_code=418,
        code="0000",
        path="/p",
        trace_id="t",
        retry_after=1.5,
    )
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls
    assert again.__dict__ == err.__dict__
    assert str(again) == str(err) and again.args == err.args


def test_retryable_can_be_set_per_instance() -> None:
    assert api.TransportError(retryable=False).retryable is False
    assert api.TransportError().retryable is True
    assert len(ALL_ERRORS) >= 20
