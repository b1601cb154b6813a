"""What each attempt may have cost, and the hooks a caller uses to account for it.

Every HTTP attempt ends in one of three charges:

===============  ===============================================================================
charge           attempts
===============  ===============================================================================
answered         a 2xx whose body parsed as an OCR result (billed for its non-ERROR pages)
not_billed       nothing reached the service (connect error or timeout, the upload cut short,
                 the pool timed out), or the service answered with a CLOVA error body (0025,
                 0023, 0500, 0011 …): the service does not bill errors
possibly_billed  the service may have done the work: a 2xx whose body could not be read, a
                 connection dropped or a read timeout after the upload, a non-JSON 5xx from a
                 gateway, an unexpected fault mid-exchange
===============  ===============================================================================

An :class:`AttemptHooks` object (the pipeline's ledger) hears of each attempt before it is sent
— and may refuse it, e.g. when a budget is spent — and of its charge after.
"""

from __future__ import annotations

from typing import Literal, Protocol

from clova_etl.client._exceptions import (
    APIStatusError,
    ClovaOCRError,
    GatewayError,
    RequestRejectedError,
    ResponseValidationError,
    TransportError,
)
from clova_etl.client._request import OCRRequest

__all__ = ["AttemptHooks", "Charge", "RateLimiter", "charge_of"]

Charge = Literal["answered", "not_billed", "possibly_billed"]


def charge_of(error: ClovaOCRError | None) -> Charge:
    """The charge of an attempt that ended with ``error`` (None: a parsed answer)."""
    if error is None:
        return "answered"
    if isinstance(error, ResponseValidationError):
        return "possibly_billed"  # a 2xx: the work was done, the answer lost
    if isinstance(error, GatewayError):
        return "possibly_billed"  # a proxy's page: the service behind it may have answered
    if isinstance(error, APIStatusError | RequestRejectedError):
        return "not_billed"
    if isinstance(error, TransportError):
        return "possibly_billed" if error.delivered else "not_billed"
    return "possibly_billed"


class AttemptHooks(Protocol):
    """Hears of every attempt: before it is sent (and may refuse it), and its charge after."""

    async def before_attempt(
        self, request: OCRRequest, attempt: int, pages: int | None
    ) -> str | None:
        """Called right before attempt number ``attempt`` is sent; a string refuses it (why)."""

    async def after_attempt(
        self,
        request: OCRRequest,
        attempt: int,
        charge: Charge,
        *,
        status: int | None,
        error: ClovaOCRError | None,
        billable_pages: int,
        body: bytes | None,
    ) -> None:
        """Called once the attempt ended (``body``: the answer's bytes as received, if any)."""


class RateLimiter(Protocol):
    """Hands out start times; shared by every client that must keep to one rate."""

    async def acquire(self) -> float:
        """Wait for the next start; return the seconds waited."""
