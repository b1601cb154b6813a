"""README.md as runnable blocks, and a way to run them as a user's shell would.

A fenced block is runnable when its language is a shell, ``toml``, ``python`` or ``sql``; every
runnable block must be preceded by a marker naming its test scenario::

    <!-- readme-test: scenario=failures background -->
    ```bash
    clova-etl serve --port 8765 --secret local-secret --quota 3
    ```

Options: ``scenario=NAME`` (required; the test of that name runs all its blocks in order),
``background`` (a server the scenario starts and stops), ``file=PATH`` (a non-shell block the
scenario writes to PATH before running), ``skip-reason="…"`` (the block cannot run here as
written; the scenario's test says what it runs instead). ``text`` blocks are output, not run.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.fixtures.demo import REPO_ROOT, user_env
from tests.fixtures.net import free_port

README = REPO_ROOT / "README.md"
SHELLS = {"bash", "sh", "shell", "console"}
RUNNABLE = SHELLS | {"toml", "python", "sql"}

_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(r"^<!--\s*readme-test:(.*?)-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block of the README."""

    lang: str
    text: str
    line: int
    options: Mapping[str, str] = field(default_factory=dict)

    @property
    def scenario(self) -> str | None:
        return self.options.get("scenario")

    @property
    def background(self) -> bool:
        return "background" in self.options


def parse_marker(text: str) -> dict[str, str]:
    """``scenario=x background skip-reason="a b"`` → ``{"scenario": "x", "background": "", …}``."""
    options: dict[str, str] = {}
    for token in shlex.split(text):
        key, _, value = token.partition("=")
        options[key] = value
    return options


def readme_blocks(path: Path = README) -> list[Block]:
    """Every fenced block, with the marker that precedes it (if any)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        prev = start - 1
        while prev >= 0 and not lines[prev].strip():
            prev -= 1
        marker = _MARKER.match(lines[prev]) if prev >= 0 else None
        options = parse_marker(marker.group(1)) if marker else {}
        blocks.append(Block(m.group(1), "\n".join(lines[start + 1 : j]) + "\n", start + 1, options))
        i = j + 1
    return blocks


def scenario_blocks(name: str) -> list[Block]:
    """The blocks of one scenario, in README order (at least one)."""
    found = [b for b in readme_blocks() if b.scenario == name]
    assert found, f"README has no block of scenario {name!r}"
    return found


def substitute(text: str, replacements: Mapping[str, str]) -> str:
    """``text`` with each key replaced (longest first, so prefixes cannot clash)."""
    for old in sorted(replacements, key=len, reverse=True):
        text = text.replace(old, replacements[old])
    return text


def group_gone(pgid: int, timeout: float = 10) -> bool:
    """Whether no process of group ``pgid`` is left (waits up to ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


@dataclass
class Shell:
    """Runs README blocks with bash in ``cwd``, as a user's shell (see ``user_env``)."""

    cwd: Path
    env: dict[str, str] = field(default_factory=user_env)

    def run(
        self, script: str, *, errexit: bool = True, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        """Run ``script``; with ``errexit`` any failing command fails it (set -euo pipefail)."""
        prelude = "set -euo pipefail\n" if errexit else "set -uo pipefail\n"
        return subprocess.run(
            ["bash", "-c", prelude + script],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, script: str, **kwargs: object) -> str:
        """Run ``script`` and return its output; fail with both streams when it fails."""
        proc = self.run(script, **kwargs)  # type: ignore[arg-type]
        assert proc.returncode == 0, (
            f"exit {proc.returncode}\n--- script\n{script}\n--- stdout\n{proc.stdout}"
            f"\n--- stderr\n{proc.stderr}"
        )
        return proc.stdout + proc.stderr

    @contextmanager
    def background(
        self, script: str, *, ready_url: str, timeout: float = 60, stop_timeout: float = 30
    ) -> Iterator[subprocess.Popen[bytes]]:
        """Start ``script`` in its own process group, wait for ``ready_url``; stop it after.

        Stops with SIGINT (Ctrl-C, what the README says), then SIGTERM, then SIGKILL, each to
        the group this started (and nothing else).
        """
        log = self.cwd / f"background-{free_port()}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["bash", "-c", "set -euo pipefail\n" + script],
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise AssertionError(
                        f"{script!r} exited {proc.returncode}:\n{log.read_text(errors='replace')}"
                    )
                try:
                    if httpx.get(ready_url, timeout=2, trust_env=False).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{ready_url} not ready after {timeout} s:\n"
                        + log.read_text(errors="replace")[-4000:]
                    )
                time.sleep(0.5)
            yield proc
        finally:
            for sig, wait in (
                (signal.SIGINT, stop_timeout),
                (signal.SIGTERM, 10),
                (signal.SIGKILL, 5),
            ):
                if proc.poll() is not None:
                    break
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(wait)
                except subprocess.TimeoutExpired:
                    continue
            # Children that outlived the leader (same group) get the same treatment.
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
