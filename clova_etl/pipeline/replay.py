"""Replay: rebuild tables from stored answers (by day written and/or ids); zero API calls."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from typing import Any

from clova_etl import progress
from clova_etl.config import PipelineConfig
from clova_etl.pipeline.ledger import open_ledger
from clova_etl.pipeline.publish import flatten_run, load_run

logger = logging.getLogger("clova_etl.pipeline")


def replay(
    config: PipelineConfig,
    run_id: str,
    *,
    since: str | date | None = None,
    until: str | date | None = None,
    request_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Re-flatten and reload stored envelopes (by day written and/or ids); no API call."""
    ledger = open_ledger(config)
    ids = list(request_ids or [])
    if since is not None or until is not None:
        lo = date.fromisoformat(since) if isinstance(since, str) else (since or date.min)
        hi = date.fromisoformat(until) if isinstance(until, str) else (until or date.max)
        ids.extend(ledger.request_ids_between(lo, hi))
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {"run_id": run_id, "request_ids": 0, "flatten": None, "load": None}
    # The objects' states come along, so a replay into a new warehouse has its etl_objects too.
    wanted = set(ids)
    states = [
        state
        for state in ledger.object_states()
        if wanted.intersection((state.get("request_ids") or "").split(","))
    ]
    with progress.phase("replay: flatten", len(ids), unit="requests") as shown:
        flat = flatten_run(config, run_id, request_ids=ids, stored_objects=states)
        shown.advance(len(ids))
    with progress.phase("replay: load", 1, unit="batch") as shown:
        loaded = load_run(config, flat, run_id)
        shown.advance(1)
    missing = flat["missing_request_ids"]
    if missing:
        logger.warning("replay run_id=%s: %d request id(s) have no envelope", run_id, len(missing))
    return {"run_id": run_id, "request_ids": len(ids), "flatten": flat, "load": loaded}


__all__ = ["replay"]
