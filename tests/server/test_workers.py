"""``clova-etl serve --workers N``: several real processes answer as one server.

Counts at ``/_stats`` are exact whatever process answered, the rate limit and the quota hold for
the server as a whole, and the fault sequence is the one a single process gives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.fixtures.net import free_port
from tests.server.helpers import blank_png, message

SECRET = "workers-secret"
PNG = blank_png()


class Served:
    """A ``clova-etl serve`` process tree on a free port."""

    def __init__(self, *options: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "clova_etl.cli", "serve", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*command, "--secret", SECRET, "--log-level", "warning", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.proc.communicate()[1]}")
            try:
                if httpx.get(f"{self.base}/_health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def call(self, request_id: str) -> str:
        """One OCR call on a new connection (any worker may take it); the answer's code."""
        body = message("png", data=PNG, request_id=request_id)
        response = httpx.post(
            f"{self.base}/custom/v1/1/x/general",
            json=body,
            headers={"X-OCR-SECRET": SECRET},
            timeout=30,
        )
        try:
            body = response.json()
        except ValueError:  # a malformed answer: a 200 whose body was cut
            return "malformed"
        return "200" if response.status_code == 200 else str(body["code"])

    def calls(self, n: int, threads: int = 8) -> list[str]:
        """``n`` calls at once from ``threads`` threads; their codes."""
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(self.call, (f"r-{i}" for i in range(n))))

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(f"{self.base}/_stats", timeout=10).json()
        return result

    def pids(self, attempts: int = 200) -> set[int]:
        """Process ids that answered ``/_health`` over fresh connections."""
        seen: set[int] = set()
        for _ in range(attempts):
            seen.add(int(httpx.get(f"{self.base}/_health", timeout=10).json()["pid"]))
            if len(seen) > 1:
                break
        return seen

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[Served] = []

    def start(*options: str) -> Served:
        started.append(Served(*options))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def test_calls_over_several_processes_are_counted_exactly(serve: Any) -> None:
    server = serve("--workers", "2")
    assert len(server.pids()) == 2  # both processes take connections
    codes = server.calls(40)
    assert codes == ["200"] * 40
    stats = server.stats()
    assert stats["total_calls"] == 40
    assert stats["billable_calls"] == stats["billable_pages"] == 40
    assert stats["calls_by_request_id"] == {f"r-{i}": 1 for i in range(40)}
    assert stats["billable_by_request_id"] == {f"r-{i}": 1 for i in range(40)}
    assert stats["responses_by_code"] == {"200": 40}
    # DELETE /_stats zeroes every process's counts.
    httpx.delete(f"{server.base}/_stats", timeout=10).raise_for_status()
    server.calls(5)
    assert server.stats()["total_calls"] == 5


def test_the_rate_limit_holds_for_the_server_not_per_process(serve: Any) -> None:
    rate = 4.0
    server = serve("--workers", "2", "--rate-limit", str(rate))
    started = time.monotonic()
    codes = Counter(server.calls(30))
    elapsed = time.monotonic() - started
    # Burst of `rate` tokens, then `rate` per second, for all processes together.
    assert codes["200"] <= rate + rate * elapsed + 1, (codes, elapsed)
    assert codes["200"] + codes["0025"] == 30
    stats = server.stats()
    assert stats["responses_by_code"].get("0025", 0) == codes["0025"]
    assert stats["billable_calls"] == codes["200"]


def test_the_quota_is_shared(serve: Any) -> None:
    server = serve("--workers", "2", "--quota", "7")
    codes = Counter(server.calls(24))
    assert codes == {"200": 7, "0023": 17}
    stats = server.stats()
    assert stats["billable_calls"] == 7
    assert stats["responses_by_code"] == {"200": 7, "0023": 17}


def test_the_fault_sequence_is_that_of_one_process(serve: Any) -> None:
    options = ("--fail-rate", "0.4", "--malformed-rate", "0.2", "--seed", "11")
    sequences = []
    for workers in ("1", "3"):
        server = serve("--workers", workers, *options)
        # One at a time: call N meets the N-th decision, whichever process takes it.
        sequences.append([server.call(f"s-{i}") for i in range(24)])
        assert server.stats()["total_calls"] == 24
        server.stop()
    assert sequences[0] == sequences[1]
    assert {"200", "malformed"} <= set(sequences[0]) and {"0500", "0501"} & set(sequences[0])


def test_workers_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    from clova_etl.cli import build_parser
    from clova_etl.commands import serve as command

    args = build_parser().parse_args(["serve", "--workers", "0", "--secret", "x"])
    assert command.run(args) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err
