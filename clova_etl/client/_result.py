"""The outcome of one OCR request: the parsed answer and its exact bytes, or the error."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from clova_etl.client._exceptions import ClovaOCRError
from clova_etl.client._models import OCRResponse

__all__ = ["OCRResult"]


@dataclass(frozen=True, slots=True)
class OCRResult:
    """One request's outcome; ``error`` is None on success, ``response`` None on failure.

    ``raw_body`` is the exact body of the final answer (an error body too), to be stored
    untouched. ``attempts`` is 0 when nothing was sent (rejected, or the quota ran out).
    """

    request_id: str
    response: OCRResponse | None
    raw_body: bytes | None = field(repr=False)
    http_status: int | None
    attempts: int
    requested_at: datetime
    completed_at: datetime
    duration_ms: int
    error: ClovaOCRError | None
    pages_sent: int | None = None

    @property
    def ok(self) -> bool:
        """True when the answer parsed as a General/Template OCR result."""
        return self.error is None

    @property
    def billable_pages(self) -> int:
        """Images the service bills: those whose ``inferResult`` is not ``ERROR``."""
        return self.response.billable_pages if self.response is not None else 0

    def raise_for_error(self) -> OCRResult:
        """Raise the error if there is one; return self otherwise."""
        if self.error is not None:
            raise self.error
        return self
