"""Publish: flatten a run's stored answers into Parquet (silver), then load the warehouse."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from clova_etl.config import PipelineConfig
from clova_etl.pipeline.ledger import open_ledger, seg, utcnow
from clova_etl.pipeline.objects import RequestEnd, object_row, object_status, write_etl_objects
from clova_etl.pipeline.storage import Storage

logger = logging.getLogger("clova_etl.pipeline")


def _parquet_key(run_id: str) -> str:
    return f"parquet/{seg(run_id)}"


def _envelope_end(data: bytes) -> RequestEnd:
    try:
        call = orjson.loads(data).get("call") or {}
        return RequestEnd(
            call.get("status", "failed"), call.get("error_code"), call.get("error_message")
        )
    except (orjson.JSONDecodeError, AttributeError):
        return RequestEnd("failed", "MALFORMED_ENVELOPE", "stored envelope is not JSON")


@contextmanager
def _local_dir(store: Storage, key: str, *, upload: bool) -> Iterator[Path]:
    """A local folder for ``key``: the store's own folder, or a temp copy of a remote one."""
    if store.is_local:
        path = store.local_path(key)
        if upload and path.exists():
            shutil.rmtree(path)  # a retried task must not leave parts of its earlier attempt
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    tmp = Path(tempfile.mkdtemp(prefix="clova-etl-"))
    try:
        if not upload:
            for obj in store.list_objects(key):
                target = tmp / obj.key[len(key) :].lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(store.read(obj.key))
        yield tmp
        if upload:
            for old in store.list_keys(key):
                store.delete(old)
            for path in sorted(tmp.rglob("*")):
                if path.is_file():
                    store.write(f"{key}/{path.relative_to(tmp).as_posix()}", path.read_bytes())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def flatten_run(
    config: PipelineConfig,
    run_id: str,
    ocr_results: Sequence[dict[str, Any]] | None = None,
    *,
    request_ids: Sequence[str] | None = None,
    stored_objects: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Flatten the run's envelopes into Parquet (silver) in the store, with etl_objects rows.

    The requests are those of every object named in ``ocr_results`` (the :func:`ocr_batch`
    summaries) plus ``request_ids``; ``stored_objects`` are object states already in the
    ledger (a replay), written to etl_objects as they are. Returns ``{"run_id", "parquet_uri",
    "request_ids", "documents", "tables": {table: rows}, "objects": [object state], "object_status":
    {status: count}}``; the object states are written to the ledger by :func:`load_run`.
    """
    from clova_etl.flatten import flatten_to_parquet

    ledger = open_ledger(config)
    metas: dict[str, dict[str, Any]] = {}
    wanted: list[str] = list(request_ids or [])
    for res in ocr_results or []:
        for meta in res.get("objects", []):
            metas.setdefault(meta["uri"], meta)
    for meta in metas.values():
        wanted.extend(meta.get("request_ids", []))

    ends: dict[str, RequestEnd | None] = {}
    items: list[tuple[str, bytes]] = []
    for rid in dict.fromkeys(wanted):
        key = ledger.envelope_key(rid)
        data = ledger.store.read_if_exists(key) if key else None
        if key is None or data is None:
            ends[rid] = None
            continue
        ends[rid] = _envelope_end(data)
        items.append((ledger.store.uri_for(key), data))

    now = utcnow()
    rows = []
    for uri, meta in sorted(metas.items()):
        status = object_status(meta, ends)
        rows.append(object_row(meta, status, ledger.object_state(uri), run_id, now))
    rows.extend(dict(state) for state in stored_objects if state["source_uri"] not in metas)

    key = _parquet_key(run_id)
    with _local_dir(ledger.store, key, upload=True) as out_dir:
        summary = flatten_to_parquet(items, out_dir)
        n_objects = write_etl_objects(rows, out_dir) if rows else 0
    tables = dict(getattr(summary, "rows", {}) or {})
    tables["etl_objects"] = n_objects
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    logger.info(
        "flatten run_id=%s documents=%d objects=%s parquet=%s",
        run_id,
        len(items),
        counts,
        ledger.store.uri_for(key),
    )
    return {
        "run_id": run_id,
        "parquet_uri": ledger.store.uri_for(key),
        "request_ids": [rid for rid, end in ends.items() if end is not None],
        "missing_request_ids": [rid for rid, end in ends.items() if end is None],
        "documents": len(items),
        "tables": tables,
        "objects": rows,
        "object_status": counts,
    }


def load_run(config: PipelineConfig, flattened: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Load a flattened run into the warehouse (checks included), then record object states.

    Object states (and terminal markers, which end re-discovery) are written only after the
    load committed, so a failed load leaves the objects unfinished for the next run.
    """
    from clova_etl.warehouse import connect

    ledger = open_ledger(config)
    key = _parquet_key(run_id)
    wait = config.warehouse.lock_wait_seconds
    with (
        _local_dir(ledger.store, key, upload=False) as local,
        connect(config.warehouse.uri, lock_wait_seconds=wait) as wh,
    ):
        result = wh.load(local, run_id=run_id)
    ledger.write_object_states(flattened.get("objects", []))
    summary = {
        "run_id": run_id,
        "load_id": result.load_id,
        "request_count": result.request_count,
        "rows": dict(result.rows),
        "checks": {c.name: c.status for c in result.checks},
        "warnings": [c.summary() for c in result.warnings],
        "duration_s": round(result.duration_s, 3),
        "object_status": dict(flattened.get("object_status", {})),
    }
    logger.info(
        "load run_id=%s load_id=%s requests=%d rows=%d warnings=%d",
        run_id,
        result.load_id,
        result.request_count,
        result.total_rows,
        len(result.warnings),
    )
    return summary


__all__ = ["flatten_run", "load_run"]
