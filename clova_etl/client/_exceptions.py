"""Errors of the CLOVA OCR client, named by cause and marked transient or terminal.

Tree (``retryable`` in brackets; ``*`` = decided per instance)::

    ClovaOCRError
    ├── RequestRejectedError .................. [no]  checked before sending; nothing was sent
    ├── AttemptRefusedError ................... [no]  the caller's hooks refused to send it
    ├── TransportError ........................ [yes*] no usable HTTP answer
    │   ├── RequestTimeoutError ............... [yes] connect/read/write/pool timeout
    │   ├── ConnectionFailedError ............. [yes] could not connect (nothing was sent)
    │   └── ConnectionDroppedError ............ [yes] connection dropped mid-exchange
    ├── APIStatusError ........................ [*]   the service answered with an error
    │   ├── AuthenticationError ............... [no]  0002 secret key validation failed
    │   ├── ConfigurationError ................ [no]  the invoke URL/domain/templates are wrong
    │   │   ├── InvalidURLError ............... [no]  0001
    │   │   ├── InvalidDomainError ............ [no]  0022
    │   │   ├── TableDetectionNotEnabledError . [no]  0028
    │   │   └── TemplateNotDeployedError ...... [no]  1021
    │   ├── BadRequestError ................... [no]  0011 request body invalid
    │   │   └── UnsupportedVersionError ....... [no]  0021 protocol version not supported
    │   ├── QuotaExceededError ................ [no]  0023: stop sending, the quota is spent
    │   │   └── QuotaNotSentError ............. [no]  never sent: an earlier request hit 0023
    │   ├── RateLimitError .................... [yes] 0025 throttled (HTTP 400), back off
    │   └── ServerError ....................... [yes] 0500, 0501, other 5xx
    │       └── GatewayError .................. [yes] non-JSON answer (HTML 502/504 page)
    └── ResponseValidationError ............... [no]  a 200 answer that is no OCR result
        └── MalformedResponseError ............ [yes] 200 body that is not JSON (bounded retries)

Every error carries ``request_id``, ``status_code``, ``code``, ``message``, ``path``,
``trace_id`` and ``retryable`` as plain values. None holds the httpx request or response: the
request carries the X-OCR-SECRET header, and an error must be safe to log and to pickle.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

RejectCode = Literal[
    "EMPTY_FILE",
    "FILE_TOO_LARGE",
    "TOO_MANY_PAGES",
    "UNSUPPORTED_FORMAT",
    "UNREADABLE_FILE",
]


def _restore(cls: type[ClovaOCRError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class ClovaOCRError(Exception):
    """Base of every error the CLOVA OCR client raises or reports."""

    retryable: bool = False
    default_message: ClassVar[str] = "CLOVA OCR request failed"
    default_code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str | None = None,
        *,
        request_id: str | None = None,
        status_code: int | None = None,
        code: str | None = None,
        path: str | None = None,
        trace_id: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.request_id = request_id
        self.status_code = status_code
        self.code = code if code is not None else self.default_code
        self.path = path
        self.trace_id = trace_id
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable
        super().__init__(self.message)

    def __str__(self) -> str:
        head = f"[{self.code}] {self.message}" if self.code else self.message
        ctx = [
            f"{label}={value}"
            for label, value in (
                ("HTTP", self.status_code),
                ("request_id", self.request_id),
                ("path", self.path),
                ("trace_id", self.trace_id),
            )
            if value is not None
        ]
        return f"{head} ({', '.join(ctx)})" if ctx else head

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, code={self.code!r}, "
            f"status_code={self.status_code!r}, request_id={self.request_id!r}, "
            f"retryable={self.retryable!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only __init__ defeats the default exception pickling; rebuild from state.
        return (_restore, (type(self), self.args, dict(self.__dict__)))


class RequestRejectedError(ClovaOCRError):
    """The request breaks a service limit (size, pages, format, empty): checked, never sent."""

    default_message = "request rejected before sending"


class AttemptRefusedError(ClovaOCRError):
    """The caller's attempt hooks refused to send the request (a budget is spent); not sent."""

    default_message = "not sent: refused by the caller"


class TransportError(ClovaOCRError):
    """No usable HTTP answer: the network, a proxy or the connection failed.

    ``delivered`` says whether the whole request may have reached the service (so it may have
    done, and billed, the work): False only when the failure came before the upload ended.
    """

    retryable = True
    default_message = "transport error talking to CLOVA OCR"
    delivered: bool = True

    def __init__(
        self, message: str | None = None, *, delivered: bool | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        if delivered is not None:
            self.delivered = delivered


class RequestTimeoutError(TransportError):
    """A connect, read, write or pool timeout expired."""

    default_message = "CLOVA OCR request timed out"


class ConnectionFailedError(TransportError):
    """The connection could not be opened (nothing was sent)."""

    default_message = "could not connect to CLOVA OCR"
    delivered = False


class ConnectionDroppedError(TransportError):
    """The connection broke during the exchange (the call may or may not have been made)."""

    default_message = "connection to CLOVA OCR dropped"


class APIStatusError(ClovaOCRError):
    """The service answered with an error body (or an error status)."""

    default_message = "CLOVA OCR returned an error"


class AuthenticationError(APIStatusError):
    """0002: the X-OCR-SECRET was refused; fix the secret of the connection."""

    default_message = "secret key validation failed: check the X-OCR-SECRET of this invoke URL"


class ConfigurationError(APIStatusError):
    """The invoke URL, domain or deployed templates do not fit the request: fix the set-up."""

    default_message = "CLOVA OCR domain configuration does not fit the request"


class InvalidURLError(ConfigurationError):
    """0001: the invoke URL is invalid."""

    default_message = "the invoke URL is invalid: copy it again from the CLOVA OCR console"


class InvalidDomainError(ConfigurationError):
    """0022: the request domain is invalid."""

    default_message = "the request domain is invalid: check the invoke URL"


class TableDetectionNotEnabledError(ConfigurationError):
    """0028: table detection was asked for on a domain that does not have it."""

    default_message = (
        "table detection is not enabled on this domain: enable it in the console "
        "or send enable_table_detection=False"
    )


class TemplateNotDeployedError(ConfigurationError):
    """1021: no deployed template: release the template in the console first."""

    default_message = "no deployed template: release the template in the CLOVA OCR console"


class BadRequestError(APIStatusError):
    """0011: the request body is invalid."""

    default_message = "request body invalid"


class UnsupportedVersionError(BadRequestError):
    """0021: the protocol version (V1/V2) is not supported."""

    default_message = "protocol version not supported"


class QuotaExceededError(APIStatusError):
    """0023: the API call quota is spent; a batch stops sending at once."""

    default_message = "API request count reached the upper limit (quota exhausted)"


class QuotaNotSentError(QuotaExceededError):
    """Never sent: an earlier request of the same batch exhausted the quota."""

    default_message = "not sent: the API quota was exhausted earlier in this batch"
    default_code = "QUOTA_NOT_SENT"


class RateLimitError(APIStatusError):
    """0025: throttled (sent as HTTP 400); back off and retry."""

    retryable = True
    default_message = "calls to this API have exceeded the rate limit"


class ServerError(APIStatusError):
    """0500/0501 or another 5xx: a fault on the service side; retry."""

    retryable = True
    default_message = "CLOVA OCR service error"


class GatewayError(ServerError):
    """An answer that is not a CLOVA error body (an HTML 502/504 page of the gateway)."""

    default_message = "the API gateway answered with a non-JSON error page"


class ResponseValidationError(ClovaOCRError):
    """A 200 answer that is not a General/Template OCR result (wrong product, wrong shape)."""

    default_message = "response is not a General/Template OCR result"


class MalformedResponseError(ResponseValidationError):
    """A 200 answer whose body is not JSON (truncated, HTML): retried a bounded number of times."""

    retryable = True
    default_message = "response body is not valid JSON"


# Body code -> error class. Codes not listed are classified by HTTP status.
ERROR_CODES: dict[str, type[APIStatusError]] = {
    "0001": InvalidURLError,
    "0002": AuthenticationError,
    "0011": BadRequestError,
    "0021": UnsupportedVersionError,
    "0022": InvalidDomainError,
    "0023": QuotaExceededError,
    "0025": RateLimitError,
    "0028": TableDetectionNotEnabledError,
    "0500": ServerError,
    "0501": ServerError,
    "1021": TemplateNotDeployedError,
}
