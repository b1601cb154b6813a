"""Read-modify-write of one small JSON record, atomic across every process sharing the store.

Counters (budgets) and the rate limit's schedule are updated with :func:`update`: read the
record and its version, compute the new value, write it only if the version is unchanged
(``If-Match`` on S3, a file lock on a local folder), else read again. Of concurrent updaters
each one's change lands exactly once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import orjson

from clova_etl.pipeline.errors import StorageError
from clova_etl.pipeline.ledger.keys import dumps
from clova_etl.pipeline.storage import Storage

Record = dict[str, Any]

# Enough for dozens of processes updating one record at once; each try is a few milliseconds.
_MAX_TRIES = 200


def read_record(store: Storage, key: str) -> Record | None:
    """The record stored under ``key``, or None (absent or damaged)."""
    data = store.read_if_exists(key)
    if data is None:
        return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def update(
    store: Storage,
    key: str,
    change: Callable[[Record | None], Record | None],
    *,
    durable: bool = True,
) -> tuple[Record | None, bool]:
    """Apply ``change`` to the record atomically; return ``(record, written)``.

    ``change`` gets the current record (None if absent) and returns the new one, or None to
    leave it as it is (then the current record is returned with ``written=False``). It may be
    called several times, so it must not have side effects. ``durable=False`` is for records
    that need not survive a power cut (a schedule): the update is as atomic, without an fsync.
    """
    rng = random.Random()  # noqa: S311 (jitter, not crypto)
    for attempt in range(_MAX_TRIES):
        info = store.info(key)
        current = read_record(store, key) if info is not None else None
        new = change(current)
        if new is None:
            return current, False
        body = dumps(new)
        if info is None:
            if store.create(key, body, durable=durable):
                return new, True
        elif store.replace_if(key, body, info.etag, durable=durable):
            return new, True
        # Someone else changed it first: back off a little (more after each loss) and retry.
        time.sleep(rng.uniform(0, min(0.05, 0.001 * 2 ** min(attempt, 6))))
    raise StorageError(f"cannot update {store.uri_for(key)}: too much contention")


__all__ = ["Record", "read_record", "update"]
