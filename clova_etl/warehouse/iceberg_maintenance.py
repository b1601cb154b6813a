"""Housekeeping of an Iceberg warehouse: compact small files, expire old snapshots, delete the
files only expired snapshots referenced (``clova-etl maintain``).

Every load adds a snapshot and small files to each table. Compaction rewrites a table's live
rows into few files in ONE overwrite snapshot (the rows do not change; a reader sees the old or
the new files). Expiry drops snapshots older than a cutoff (the current one and the newest
``retain_last`` are always kept), then deletes the data files, manifests and manifest lists
that no remaining snapshot references. A table changed by a load meanwhile is left for the next
run (its commit would conflict); nothing is retried here.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from clova_etl.warehouse.ddl import warehouse_tables
from clova_etl.warehouse.iceberg import IcebergWarehouse

log = logging.getLogger(__name__)

COMPACT_MIN_FILES = 8
"""A table is compacted when it has at least this many data files."""


@dataclass
class TableMaintenance:
    """What maintenance did (or would do) to one table."""

    table: str
    files_before: int
    files_after: int
    snapshots_expired: int = 0
    files_deleted: int = 0
    skipped: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


@dataclass
class MaintenanceReport:
    """Maintenance of every table of a warehouse."""

    dry_run: bool
    tables: list[TableMaintenance] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"dry_run": self.dry_run, "tables": [t.to_dict() for t in self.tables]}

    def render(self) -> str:
        """One line per table."""
        head = "maintenance (dry run)" if self.dry_run else "maintenance"
        lines = [head]
        for t in self.tables:
            line = (
                f"  {t.table}: data files {t.files_before} -> {t.files_after}, "
                f"{t.snapshots_expired} snapshot(s) expired, {t.files_deleted} file(s) deleted"
            )
            lines.append(line + (f" (skipped: {t.skipped})" if t.skipped else ""))
        return "\n".join(lines)


def maintain(
    wh: IcebergWarehouse,
    *,
    older_than: timedelta = timedelta(days=7),
    retain_last: int = 1,
    compact: bool = True,
    min_files: int = COMPACT_MIN_FILES,
    dry_run: bool = False,
) -> MaintenanceReport:
    """Compact every table with at least ``min_files`` data files, then expire old snapshots."""
    from pyiceberg.exceptions import CommitFailedException, ValidationException

    wh.ensure_schema()
    report = MaintenanceReport(dry_run)
    cutoff = datetime.now(UTC) - older_than
    for name in warehouse_tables():
        table = wh._table(name)
        files = _live_files(table)
        entry = TableMaintenance(name, len(files), len(files))
        report.tables.append(entry)
        try:
            if compact and len(files) >= min_files:
                entry.files_after = len(files) if dry_run else _compact(table)
                table = wh._table(name)
            entry.snapshots_expired, entry.files_deleted = _expire(
                table, cutoff, retain_last, dry_run
            )
        except (CommitFailedException, ValidationException) as exc:
            entry.skipped = f"changed by a concurrent commit ({type(exc).__name__}); run again"
            log.info("maintenance of %s skipped: %s", name, exc)
    return report


def _live_files(table: Any) -> list[Any]:
    return [task.file for task in table.scan().plan_files()]


def _compact(table: Any) -> int:
    """Rewrite the table's rows into few files in one overwrite snapshot; the new file count."""
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import _dataframe_to_data_files

    metadata = table.metadata
    tasks = list(table.scan().plan_files())
    if any(task.delete_files for task in tasks):
        raise ValueError(
            f"{table.name()} has delete files; compact it with the engine that wrote them"
        )
    data = table.scan().to_arrow()
    txn = table.transaction()
    with txn.update_snapshot(snapshot_properties={"clova-etl.compaction": "true"}).overwrite() as s:
        s.delete_by_predicate(AlwaysTrue())
        for task in tasks:
            s.delete_data_file(task.file)
        written = list(
            _dataframe_to_data_files(metadata, data, table.io, s.commit_uuid, itertools.count(0))
        )
        for f in written:
            s.append_data_file(f)
    txn.commit_transaction()
    return len(written)


def _referenced(table: Any, snapshots: list[Any]) -> set[str]:
    """Paths of every manifest list, manifest and data file the snapshots reference."""
    paths: set[str] = set()
    seen_manifests: set[str] = set()
    for snapshot in snapshots:
        paths.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            paths.add(manifest.manifest_path)
            if manifest.manifest_path in seen_manifests:
                continue
            seen_manifests.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                paths.add(entry.data_file.file_path)
    return paths


def _expire(table: Any, cutoff: datetime, retain_last: int, dry_run: bool) -> tuple[int, int]:
    """Expire snapshots older than ``cutoff``; delete what only they referenced."""
    snapshots = sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms)
    keep = {s.snapshot_id for s in snapshots[-max(retain_last, 1) :]}
    current = table.metadata.current_snapshot_id
    limit = cutoff.timestamp() * 1000
    expired = [
        s
        for s in snapshots
        if s.timestamp_ms < limit and s.snapshot_id not in keep and s.snapshot_id != current
    ]
    if not expired:
        return 0, 0
    remaining = [s for s in snapshots if s not in expired]
    garbage = _referenced(table, expired) - _referenced(table, remaining)
    if dry_run:
        return len(expired), len(garbage)
    table.maintenance.expire_snapshots().by_ids([s.snapshot_id for s in expired]).commit()
    for path in sorted(garbage):
        with contextlib.suppress(FileNotFoundError):
            table.io.delete(path)
    return len(expired), len(garbage)


__all__ = ["COMPACT_MIN_FILES", "MaintenanceReport", "TableMaintenance", "maintain"]
