"""Where each discovered object ended: its ``etl_objects`` row, from its requests' envelopes.

An object is ``loaded`` when every request has an answer and none failed, ``failed`` when one
failed (API rejection, malformed answer, transient failures exhausted), ``rejected`` when it or
one of its requests was refused before sending, ``skipped`` when the configuration says not to
process it (hidden, ignored), and ``pending`` while a request has no envelope yet.
Re-processing that changes nothing keeps the row's times and run id, so replays and re-runs
leave identical rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from clova_etl.pipeline.errors import SKIPPED_CODES
from clova_etl.schema import ETL_OBJECTS


@dataclass(frozen=True)
class RequestEnd:
    """How one request ended, read from its envelope."""

    status: str
    error_code: str | None = None
    error_message: str | None = None


def object_status(
    meta: Mapping[str, Any], ends: Mapping[str, RequestEnd | None]
) -> tuple[str, str | None, str | None]:
    """(status, error_code, error_message) of an object from its requests' ends."""
    if meta.get("error_code") in SKIPPED_CODES:
        return "skipped", meta["error_code"], meta.get("error_message")
    if meta.get("error_code"):
        return "rejected", meta["error_code"], meta.get("error_message")
    request_ends = [ends.get(rid) for rid in meta.get("request_ids", [])]
    if not request_ends or any(e is None for e in request_ends):
        return "pending", None, None
    for wanted in ("rejected", "failed"):
        for end in request_ends:
            assert end is not None
            if end.status == wanted:
                return wanted, end.error_code, end.error_message
    return "loaded", None, None


def object_row(
    meta: Mapping[str, Any],
    status: tuple[str, str | None, str | None],
    previous: Mapping[str, Any] | None,
    run_id: str,
    now: datetime,
) -> dict[str, Any]:
    """The object's state: its etl_objects columns plus ``key``, ``version``, request id list."""
    state, code, message = status
    same_version = previous is not None and previous.get("version") == meta["version"]
    unchanged = (
        same_version
        and previous is not None
        and (previous.get("status"), previous.get("error_code")) == (state, code)
    )
    return {
        "source_uri": meta["uri"],
        "source_sha256": meta.get("sha256") or "",
        "source_size_bytes": meta.get("size_bytes"),
        "source_last_modified": meta.get("last_modified"),
        "source_format": meta.get("format"),
        "route": meta.get("route"),
        "status": state,
        "error_code": code,
        "error_message": message,
        "request_ids": ",".join(meta.get("request_ids", [])) or None,
        "discovered_at": (
            previous.get("discovered_at") if same_version and previous else now.isoformat()
        ),
        "updated_at": previous.get("updated_at") if unchanged and previous else now.isoformat(),
        "run_id": previous.get("run_id") if unchanged and previous else run_id,
        # Bookkeeping beyond the table's columns.
        "key": meta["key"],
        "version": meta["version"],
    }


def write_etl_objects(rows: Sequence[Mapping[str, Any]], out_dir: Path) -> int:
    """Write the rows as ``out_dir/etl_objects/part-00000.parquet``; return the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = ETL_OBJECTS.arrow_schema
    columns: dict[str, list[Any]] = {name: [] for name in ETL_OBJECTS.column_names}
    for row in sorted(rows, key=lambda r: (r["source_uri"], r["source_sha256"])):
        for name in columns:
            value = row.get(name)
            if isinstance(value, str) and pa.types.is_timestamp(schema.field(name).type):
                value = datetime.fromisoformat(value)
            columns[name].append(value)
    table = pa.table(columns, schema=schema)
    target = out_dir / ETL_OBJECTS.name
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("part-*.parquet"):
        old.unlink()
    pq.write_table(table, target / "part-00000.parquet")
    return int(table.num_rows)


__all__ = ["RequestEnd", "object_row", "object_status", "write_etl_objects"]
