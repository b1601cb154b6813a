"""Discovery: which objects a run takes, given its data interval.

A run takes the objects last modified in its interval ``[start, end)``, plus every object last
modified *before* ``start`` that has no terminal status yet (it arrived late, or an earlier run
failed or stopped before finishing it). Objects modified at or after ``end`` belong to later
runs. So consecutive intervals, catch-up and backfills select every object, and each object is
selected by its interval exactly once; a re-run of an interval selects it again at zero cost
(its requests are in the raw store). Without a start (a manual run), only unfinished objects
are taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from clova_etl.config import SourceConfig
from clova_etl.pipeline.ledger import Ledger, object_id
from clova_etl.pipeline.routing import matches_any
from clova_etl.pipeline.storage import ObjectInfo, Storage

Reason = Literal["interval", "unfinished"]


@dataclass(frozen=True)
class Discovered:
    """An object a run must process, and why it was selected."""

    info: ObjectInfo
    reason: Reason

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (XCom)."""
        return {**self.info.to_dict(), "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Discovered:
        """Inverse of :meth:`to_dict`."""
        return cls(ObjectInfo.from_dict(data), data.get("reason", "interval"))


def select(
    objects: Iterable[ObjectInfo],
    terminal: set[str],
    start: datetime | None,
    end: datetime,
    *,
    ignore: Iterable[str] = (),
    not_before: datetime | None = None,
) -> list[Discovered]:
    """The objects of the interval plus the unfinished older ones (pure; see module doc)."""
    patterns = list(ignore)
    out: list[Discovered] = []
    for obj in objects:
        lm = obj.last_modified
        if patterns and matches_any(obj.key, patterns):
            continue
        if not_before is not None and lm < not_before:
            continue
        if lm >= end:
            continue
        if start is not None and lm >= start:
            out.append(Discovered(obj, "interval"))
        elif f"{object_id(obj.uri)}.{obj.version}" not in terminal:
            out.append(Discovered(obj, "unfinished"))
    return out


def discover_objects(
    source: Storage,
    ledger: Ledger,
    config: SourceConfig,
    start: datetime | None,
    end: datetime,
) -> list[Discovered]:
    """List the source prefix and select this run's objects."""
    not_before = datetime.fromisoformat(config.not_before) if config.not_before else None
    return select(
        source.list_objects(config.prefix),
        ledger.terminal_versions(),
        start,
        end,
        ignore=config.ignore,
        not_before=not_before,
    )


__all__ = ["Discovered", "discover_objects", "select"]
