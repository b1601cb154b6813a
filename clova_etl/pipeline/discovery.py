"""Discovery: which objects a run takes, given its data interval.

A run takes the objects last modified in its interval ``[start, end)``, plus every object last
modified *before* ``start`` that has no terminal status yet (it arrived late, or an earlier run
failed or stopped before finishing it). Objects modified at or after ``end`` belong to later
runs. So consecutive intervals, catch-up and backfills select every object, and each object is
selected by its interval exactly once; a re-run of an interval selects it again at zero cost
(its requests are in the raw store). Without a start (a manual run), only unfinished objects
are taken.

Nothing is dropped silently: keys matching ``source.ignore`` and hidden keys (a segment starting
with ``.``, unless ``source.hidden = "take"``) are selected like the others, marked ``skip``
(``ignored``/``hidden``), and end in ``etl_objects`` as ``skipped`` without being read. A
re-plan (``replan``) takes every object again, finished or not, so that changed routes or
options are applied to objects answered before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from clova_etl.config import SourceConfig
from clova_etl.pipeline import errors
from clova_etl.pipeline.ledger import Ledger, object_id
from clova_etl.pipeline.routing import matches_any
from clova_etl.pipeline.storage import ObjectInfo, Storage

Reason = Literal["interval", "unfinished", "replan"]


@dataclass(frozen=True)
class Discovered:
    """An object a run must process, and why it was selected."""

    info: ObjectInfo
    reason: Reason
    skip: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (XCom)."""
        return {**self.info.to_dict(), "reason": self.reason, "skip": self.skip}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Discovered:
        """Inverse of :meth:`to_dict`."""
        return cls(ObjectInfo.from_dict(data), data.get("reason", "interval"), data.get("skip"))


def is_hidden(key: str) -> bool:
    """Whether a segment of the key starts with ``.`` (``..dots...png`` included)."""
    return any(part.startswith(".") and part not in (".", "..") for part in key.split("/"))


def skip_reason(key: str, ignore: Sequence[str], take_hidden: bool) -> str | None:
    """``ignored``, ``hidden`` or None (processed)."""
    if ignore and matches_any(key, list(ignore)):
        return errors.IGNORED
    if not take_hidden and is_hidden(key):
        return errors.HIDDEN
    return None


def select(
    objects: Iterable[ObjectInfo],
    terminal: set[str],
    start: datetime | None,
    end: datetime,
    *,
    ignore: Iterable[str] = (),
    not_before: datetime | None = None,
    take_hidden: bool = False,
    replan: bool = False,
) -> list[Discovered]:
    """The objects of the interval plus the unfinished older ones (pure; see module doc)."""
    patterns = list(ignore)
    out: list[Discovered] = []
    for obj in objects:
        lm = obj.last_modified
        if not_before is not None and lm < not_before:
            continue
        if lm >= end:
            continue
        skip = skip_reason(obj.key, patterns, take_hidden)
        if start is not None and lm >= start:
            out.append(Discovered(obj, "interval", skip))
        elif f"{object_id(obj.uri)}.{obj.version}" not in terminal:
            out.append(Discovered(obj, "unfinished", skip))
        elif replan:
            out.append(Discovered(obj, "replan", skip))
    return out


def discover_objects(
    source: Storage,
    ledger: Ledger,
    config: SourceConfig,
    start: datetime | None,
    end: datetime,
    *,
    replan: bool = False,
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
        take_hidden=config.hidden == "take",
        replan=replan,
    )


__all__ = ["Discovered", "discover_objects", "is_hidden", "select", "skip_reason"]
