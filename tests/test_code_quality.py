"""The code stays lint-clean, formatted and `mypy --strict` clean: CI fails otherwise."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.fixtures.shared import REPO_ROOT

PATHS = ["clova_etl", "dags", "tests", "bench", "constraints"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_ruff_lint_is_clean() -> None:
    proc = _run("ruff", "check", *PATHS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_ruff_format_is_clean() -> None:
    proc = _run("ruff", "format", "--check", *PATHS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_mypy_strict_is_clean() -> None:
    if shutil.which("mypy") is None and _run("mypy", "--version").returncode != 0:
        pytest.fail("mypy is not installed: run `make setup`")
    proc = _run("mypy")
    assert proc.returncode == 0, proc.stdout + proc.stderr
