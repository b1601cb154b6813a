"""Why requests were left pending, said in a few lines (for ``ingest`` and Airflow's ``finish``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping


def describe_pending(reasons: Mapping[str, str], *, limit: int = 10) -> str:
    """One line per distinct reason, with how many requests and a few of their ids."""
    by_reason: dict[str, list[str]] = defaultdict(list)
    for rid, reason in sorted(reasons.items()):
        by_reason[reason].append(rid)
    lines = []
    for reason, ids in sorted(by_reason.items(), key=lambda item: -len(item[1]))[:limit]:
        shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        lines.append(f"{len(ids)} request(s): {reason} [{shown}]")
    if len(by_reason) > limit:
        lines.append(f"… and {len(by_reason) - limit} other reason(s)")
    return "\n".join(lines)


__all__ = ["describe_pending"]
