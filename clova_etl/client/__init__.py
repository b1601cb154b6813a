"""CLOVA OCR client: General and Template OCR over httpx, typed answers, classified errors.

Typical use::

    from clova_etl.client import ClovaOCRClient, OCRRequest

    with ClovaOCRClient(invoke_url, secret) as client:
        result = client.ocr(OCRRequest(request_id=rid, source=Path("receipt.png"), lang="ko"))
        for field in result.response.images[0].fields: ...
"""

from __future__ import annotations

from clova_etl.client._attempts import AttemptHooks, Charge, RateLimiter, charge_of
from clova_etl.client._client import (
    ENV_INVOKE_URL,
    ENV_SECRET,
    AsyncClovaOCRClient,
    ClovaOCRClient,
    OnResult,
)
from clova_etl.client._config import Limits, RetryPolicy, Timeouts
from clova_etl.client._exceptions import (
    ERROR_CODES,
    APIStatusError,
    AttemptRefusedError,
    AuthenticationError,
    BadRequestError,
    ClovaOCRError,
    ConfigurationError,
    ConnectionDroppedError,
    ConnectionFailedError,
    GatewayError,
    InvalidDomainError,
    InvalidURLError,
    MalformedResponseError,
    QuotaExceededError,
    QuotaNotSentError,
    RateLimitError,
    RejectCode,
    RequestRejectedError,
    RequestTimeoutError,
    ResponseValidationError,
    ServerError,
    TableDetectionNotEnabledError,
    TemplateNotDeployedError,
    TransportError,
    UnsupportedVersionError,
)
from clova_etl.client._models import (
    Bounding,
    BoundingPoly,
    CellTextLine,
    CellWord,
    CombineResult,
    ConvertedImageInfo,
    ErrorBody,
    Image,
    ImageField,
    ImageTable,
    MatchedTemplate,
    OCRResponse,
    SubField,
    TableCell,
    ValidationResult,
    Vertex,
)
from clova_etl.client._ratelimit import TokenBucket
from clova_etl.client._request import (
    LANGUAGES,
    MAX_PAGES,
    OCRRequest,
    PreparedRequest,
    Transport,
    Version,
    max_bytes,
    prepare,
)
from clova_etl.client._response import classify_error, parse_error_body, parse_response
from clova_etl.client._result import OCRResult
from clova_etl.client._secret import Secret
from clova_etl.client._url import API_PATHS, Api, InvokeURL

__all__ = [
    "API_PATHS",
    "ENV_INVOKE_URL",
    "ENV_SECRET",
    "ERROR_CODES",
    "LANGUAGES",
    "MAX_PAGES",
    "APIStatusError",
    "Api",
    "AsyncClovaOCRClient",
    "AttemptHooks",
    "AttemptRefusedError",
    "AuthenticationError",
    "BadRequestError",
    "Bounding",
    "BoundingPoly",
    "CellTextLine",
    "CellWord",
    "Charge",
    "ClovaOCRClient",
    "ClovaOCRError",
    "CombineResult",
    "ConfigurationError",
    "ConnectionDroppedError",
    "ConnectionFailedError",
    "ConvertedImageInfo",
    "ErrorBody",
    "GatewayError",
    "Image",
    "ImageField",
    "ImageTable",
    "InvalidDomainError",
    "InvalidURLError",
    "InvokeURL",
    "Limits",
    "MalformedResponseError",
    "MatchedTemplate",
    "OCRRequest",
    "OCRResponse",
    "OCRResult",
    "OnResult",
    "PreparedRequest",
    "QuotaExceededError",
    "QuotaNotSentError",
    "RateLimitError",
    "RateLimiter",
    "RejectCode",
    "RequestRejectedError",
    "RequestTimeoutError",
    "ResponseValidationError",
    "RetryPolicy",
    "Secret",
    "ServerError",
    "SubField",
    "TableCell",
    "TableDetectionNotEnabledError",
    "TemplateNotDeployedError",
    "Timeouts",
    "TokenBucket",
    "Transport",
    "TransportError",
    "UnsupportedVersionError",
    "ValidationResult",
    "Version",
    "Vertex",
    "charge_of",
    "classify_error",
    "max_bytes",
    "parse_error_body",
    "parse_response",
    "prepare",
]
