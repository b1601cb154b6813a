"""Names in the store: key segments, ids and the clock every ledger record shares."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from datetime import UTC, datetime
from typing import Any

import orjson

TERMINAL_STATUSES = frozenset({"loaded", "failed", "rejected", "skipped"})


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def object_id(uri: str) -> str:
    """Stable short id of an object URI, usable as a key segment."""
    return hashlib.sha256(uri.encode()).hexdigest()[:32]


def dumps(data: Any) -> bytes:
    """Canonical JSON of a ledger record (sorted keys: identical records, identical bytes)."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def default_owner() -> str:
    """Who holds a claim or sent a call: host, process and thread (for people reading it)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def seg(value: str) -> str:
    """A run id or scope made safe as one key segment (Airflow run ids hold ':' and '+')."""
    safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in value)
    if safe != value:
        safe += "-" + hashlib.sha256(value.encode()).hexdigest()[:8]
    return safe or "_"


def run_key(run_id: str, name: str) -> str:
    """Key of a run's own file ``name`` (under ``runs/<run_id>/``)."""
    return f"runs/{seg(run_id)}/{name}"


__all__ = [
    "TERMINAL_STATUSES",
    "default_owner",
    "dumps",
    "object_id",
    "run_key",
    "seg",
    "utcnow",
]
