"""Deterministic identities: the same bytes with the same options always get the same id."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

import orjson

# Fixed forever: changing it would re-key every request ever made.
NAMESPACE = uuid.UUID("6f1c1f5e-3b8e-5c4e-9a57-0c10ae7e7a11")


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def request_id(
    *,
    source_sha256: str,
    api: str,
    version: str,
    lang: str | None = None,
    template_ids: Sequence[int] | None = None,
    enable_table_detection: bool = False,
    page_start: int | None = None,
    page_end: int | None = None,
) -> str:
    """UUIDv5 of the source content hash and every option that changes the answer."""
    key = {
        "sha256": source_sha256,
        "api": api.lower(),
        "version": version.upper(),
        "lang": ",".join(sorted(p.strip() for p in lang.split(","))) if lang else None,
        "template_ids": sorted(template_ids) if template_ids else None,
        "tables": bool(enable_table_detection),
        "pages": [page_start, page_end] if page_start is not None else None,
    }
    return str(uuid.uuid5(NAMESPACE, orjson.dumps(key, option=orjson.OPT_SORT_KEYS).decode()))


def response_file_request_id(response_bytes: bytes) -> str:
    """Id for a bare saved response: its own ``requestId`` only echoes the caller, so hash it."""
    return str(uuid.uuid5(NAMESPACE, "response-file:" + sha256_hex(response_bytes)))
