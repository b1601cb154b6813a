"""How many cores this process may use (its affinity mask; the CPU count where there is none)."""

from __future__ import annotations

import os


def available_cores() -> int:
    """The cores this process may run on, at least 1.

    The affinity mask, not a container's CPU quota: callers that fork or spawn per core cap
    the count themselves.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


__all__ = ["available_cores"]
