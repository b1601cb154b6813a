"""The raw-store record (bronze): one OCR request, its outcome and the untouched response.

Written once per request by the ledger (atomically), read by flatten and replay. It never holds
the image bytes or the secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ENVELOPE_VERSION = 1
ENVELOPE_MARKER = "clova_etl_envelope"

RequestStatus = Literal["succeeded", "failed", "rejected"]


class SourceInfo(BaseModel):
    """The object the request was made for."""

    model_config = ConfigDict(extra="ignore")

    uri: str
    sha256: str | None = None
    size_bytes: int | None = None
    format: str | None = None
    last_modified: datetime | None = None


class RequestOptions(BaseModel):
    """Every option that changes the answer (and so the request_id)."""

    model_config = ConfigDict(extra="ignore")

    api: Literal["general", "template"] = "general"
    version: Literal["V1", "V2"] = "V2"
    lang: str | None = None
    template_ids: list[int] | None = None
    enable_table_detection: bool = False
    page_start: int | None = None
    page_end: int | None = None


class CallRecord(BaseModel):
    """How the call went."""

    model_config = ConfigDict(extra="ignore")

    status: RequestStatus
    http_status: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    attempts: int = 0
    billable: bool = False
    billable_pages: int = 0
    pages_sent: int | None = None
    requested_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: int | None = None
    run_id: str | None = None
    # Where an answer that could not be read is kept as received (the store's ``answers/``).
    answer_uri: str | None = None


class RawEnvelope(BaseModel):
    """One stored request: the envelope around an untouched CLOVA response."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    clova_etl_envelope: int = ENVELOPE_VERSION
    request_id: str
    source: SourceInfo
    options: RequestOptions
    call: CallRecord
    response: dict[str, Any] | None = None
