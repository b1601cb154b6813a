"""The error answers of the CLOVA OCR API: ``{code, message, path, timestamp, traceId}``.

Codes and HTTP statuses follow the reference (its error table) and what live responses show:

====  ======  ===============================================================
code  status  meaning
====  ======  ===============================================================
0001  404     URL invalid (unknown path; 405 for a known path with another method)
0002  401     secret key validation failed
0011  400     request body invalid
0021  400     protocol version not supported (``version`` not V1/V2)
0022  400     request domain invalid (domain id not configured)
0023  400     API request count reached the upper limit (quota)
0025  400     rate limit exceeded
0028  400     table detection not enabled on the domain
0500  500     unknown service error
0501  500     OCR service error
1021  400     template not deployed
====  ======  ===============================================================
"""

from __future__ import annotations

import secrets
import time
from typing import Any

STATUS_BY_CODE: dict[str, int] = {
    "0001": 404,
    "0002": 401,
    "0011": 400,
    "0021": 400,
    "0022": 400,
    "0023": 400,
    "0025": 400,
    "0028": 400,
    "0500": 500,
    "0501": 500,
    "1021": 400,
}

DEFAULT_MESSAGES: dict[str, str] = {
    "0001": "URL is invalid.",
    "0002": "Secret key validate failed.",
    "0011": "Request body invalid.",
    "0021": "Protocol version not support.",
    "0022": "Request domain invalid.",
    "0023": "API request count reach the upper limit.",
    "0025": "Calls to this api have exceeded the rate limit.",
    "0028": "Table detection is not enabled for this domain.",
    "0500": "Unknown service error.",
    "0501": "OCR Service error.",
    "1021": "Not Found Deploy Info. Please confirm the template is released.",
}


class ApiError(Exception):
    """An error answer: the body code, its HTTP status and a message."""

    def __init__(self, code: str, message: str | None = None, *, status: int | None = None):
        self.code = code
        self.status = status if status is not None else STATUS_BY_CODE[code]
        self.message = message or DEFAULT_MESSAGES[code]
        super().__init__(f"{code}: {self.message}")


def body_invalid(detail: str) -> ApiError:
    """A 0011 error whose message says what is wrong with the body."""
    return ApiError("0011", f"Request body invalid: {detail}")


def error_body(error: ApiError, path: str) -> dict[str, Any]:
    """The JSON body of an error answer."""
    return {
        "code": error.code,
        "message": error.message,
        "path": path,
        "timestamp": int(time.time() * 1000),
        "traceId": secrets.token_hex(16),
    }
