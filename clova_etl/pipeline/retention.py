"""Retention: remove what each run left in the store once the run is old enough.

Every run writes working files of its own: ``parquet/<run>/`` (the flattened rows, already in
the warehouse once the run loaded) and ``runs/<run>/`` (its planned batches and quota marker).
Nothing reads them after the run ends, except a task of that run retried later, so the store
grows by them with every run. :func:`prune` removes the run folders whose newest file is older
than the cutoff; a folder with any recent file is kept whole (its run may still be going).

What identifies and proves the work is never touched: ``raw/``, ``rejected/``, ``index/``
(the responses paid for; replays rebuild every table from them), ``charges/`` and ``budgets/``,
``objects/``, ``terminal/``, ``plans/``, ``claims/``, ``attempts/`` and ``superseded/``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from clova_etl.pipeline.ledger import utcnow
from clova_etl.pipeline.storage import ObjectInfo, Storage

__all__ = ["PER_RUN_AREAS", "PruneReport", "prune"]

logger = logging.getLogger("clova_etl.pipeline")

# Store folders holding one sub-folder per run.
PER_RUN_AREAS: tuple[str, ...] = ("parquet", "runs")


@dataclass
class PruneReport:
    """What :func:`prune` removed (or, dry, would remove); JSON-ready through :meth:`to_dict`."""

    cutoff: str
    dry_run: bool
    folders: list[str] = field(default_factory=list)
    kept_recent: int = 0
    files: int = 0
    bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def render(self) -> str:
        """A short human summary."""
        verb = "would remove" if self.dry_run else "removed"
        lines = [
            f"prune (files older than {self.cutoff}){' DRY RUN' if self.dry_run else ''}: "
            f"{verb} {len(self.folders)} run folder(s), {self.files} file(s), "
            f"{self.bytes / 1e6:.1f} MB; kept {self.kept_recent} recent run folder(s)"
        ]
        lines += [f"  {folder}/" for folder in self.folders]
        return "\n".join(lines)


def prune(
    store: Storage, older_than: timedelta, *, dry_run: bool = False, now: datetime | None = None
) -> PruneReport:
    """Remove the per-run folders of ``store`` whose newest file is older than ``older_than``.

    ``now`` is the clock the age is measured against (default: the current time).
    """
    if older_than < timedelta(days=1):
        raise ValueError(
            f"refusing to prune runs younger than a day (older_than={older_than}): a run's "
            "retried task may still need its batches"
        )
    cutoff = (now or utcnow()) - older_than
    report = PruneReport(cutoff=cutoff.isoformat(), dry_run=dry_run)
    for area in PER_RUN_AREAS:
        folders: dict[str, list[ObjectInfo]] = defaultdict(list)
        for obj in store.list_objects(f"{area}/"):
            parts = obj.key.split("/")
            # <area>/<run>/<file...>; a stray file right under the area is not a run's: kept.
            if len(parts) >= 3:
                folders[f"{area}/{parts[1]}"].append(obj)
        for folder, files in sorted(folders.items()):
            if max(f.last_modified for f in files) >= cutoff:
                report.kept_recent += 1
                continue
            report.folders.append(folder)
            report.files += len(files)
            report.bytes += sum(f.size for f in files)
            if not dry_run:
                for f in files:
                    store.delete(f.key)
                store.remove_empty_folders(folder)
    logger.info(
        "prune cutoff=%s dry_run=%s folders=%d files=%d bytes=%d kept_recent=%d",
        report.cutoff,
        dry_run,
        len(report.folders),
        report.files,
        report.bytes,
        report.kept_recent,
    )
    return report
