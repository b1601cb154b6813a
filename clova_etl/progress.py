"""Progress of the long phases (OCR, flatten, load): how far, how fast, how long still.

    with progress.phase("OCR", total=len(requests), unit="requests") as ph:
        for batch in batches:
            ...
            ph.advance(len(batch), billed=calls_so_far)

Two ways to show it, chosen once by :func:`configure` (the CLI does; a library caller or an
Airflow task keeps the default, ``log``):

- ``live``: one line per phase on a terminal, redrawn in place (rich): done / total, rate, ETA
  and the phase's counters (calls billed so far);
- ``log``: a summary line on the ``clova_etl.progress`` logger every ``interval`` seconds and
  one when the phase ends, never one per item (CI, Airflow task logs, pipes);
- ``off``: nothing.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

__all__ = ["Phase", "configure", "mode", "phase"]

Mode = Literal["auto", "live", "log", "off"]

log = logging.getLogger("clova_etl.progress")

INTERVAL_ENV = "CLOVA_PROGRESS_SECONDS"
DEFAULT_INTERVAL = 30.0

_settings: dict[str, Any] = {"mode": "log", "interval": DEFAULT_INTERVAL}


def configure(how: Mode = "auto", *, interval: float | None = None) -> None:
    """Choose how phases are shown; ``auto``: ``live`` when stderr is a terminal, else ``log``."""
    if how == "auto":
        how = "live" if sys.stderr.isatty() and os.environ.get("TERM") != "dumb" else "log"
    if interval is None:
        interval = float(os.environ.get(INTERVAL_ENV) or DEFAULT_INTERVAL)
    _settings.update(mode=how, interval=interval)


def mode() -> str:
    """The mode phases are shown in now."""
    return str(_settings["mode"])


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Phase:
    """One phase's counts; :meth:`advance` as work gets done."""

    def __init__(
        self,
        name: str,
        total: int | None,
        unit: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.total = total
        self.unit = unit
        self.done = 0
        self.counters: dict[str, int] = {}
        self._clock = clock  # a test's clock, so the numbers do not depend on its speed
        self.started = clock()
        self._last_log = self.started
        self._live: Any = None
        self._task: Any = None

    # -- numbers ---------------------------------------------------------------------------

    @property
    def elapsed(self) -> float:
        """Seconds since the phase began."""
        return self._clock() - self.started

    @property
    def rate(self) -> float:
        """Items per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float:
        """Seconds still to go at the rate so far (infinite when unknown)."""
        if self.total is None or self.rate <= 0:
            return math.inf
        return max(0.0, (self.total - self.done) / self.rate)

    def extra(self) -> str:
        """The phase's counters as text (``billed 12 calls``)."""
        return ", ".join(f"{k} {v}" for k, v in self.counters.items())

    def summary(self) -> str:
        """One line: what, how far, how fast, how long still."""
        if self.total:
            share = f" ({100 * self.done / self.total:.0f}%)"
            head = f"{self.name}: {self.done}/{self.total} {self.unit}{share}"
        else:
            head = f"{self.name}: {self.done} {self.unit}"
        parts = [head, f"{self.rate:.1f}/s", f"elapsed {_duration(self.elapsed)}"]
        if self.total is not None and self.done < self.total:
            parts.append(f"ETA {_duration(self.eta)}")
        if self.counters:
            parts.append(self.extra())
        return ", ".join(parts)

    # -- updates ---------------------------------------------------------------------------

    def advance(self, n: int = 1, **counters: int) -> None:
        """``n`` more items done; ``counters`` replace the phase's running totals."""
        self.done += n
        self.counters.update(counters)
        if self._live is not None:
            self._live.update(self._task, advance=n, extra=self.extra())
        elif _settings["mode"] == "log" and (self.total is None or self.done < self.total):
            # The last step is reported by the phase's closing line.
            now = self._clock()
            if now - self._last_log >= float(_settings["interval"]):
                self._last_log = now
                log.info("%s", self.summary())

    def _start(self) -> None:
        if _settings["mode"] != "live":
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed:.1f}/s" if speed else "-/s", style="progress.data.speed")

        self._live = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(self.unit),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[extra]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._live.start()
        self._task = self._live.add_task(self.name, total=self.total, extra="")

    def _finish(self, failed: bool) -> None:
        if self._live is not None:
            if not failed and self.total is not None:
                self._live.update(self._task, completed=self.total)
            self._live.stop()
            self._live = None
        elif _settings["mode"] == "log" and (self.done or self.total):
            log.info("%s%s", self.summary(), " (stopped)" if failed else " (done)")


@contextmanager
def phase(name: str, total: int | None = None, *, unit: str = "items") -> Iterator[Phase]:
    """Show the phase's progress while the block runs (see the module docstring)."""
    current = Phase(name, total, unit)
    current._start()
    failed = True
    try:
        yield current
        failed = False
    finally:
        current._finish(failed)
