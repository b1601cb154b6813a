"""Shared test set-up: where the shared corpus lives, and the fixture plug-ins of each area.

Fixtures that several test modules use live in ``tests/fixtures/<area>.py`` and are listed in
``pytest_plugins`` below.
"""

from __future__ import annotations

import os

pytest_plugins = [
    "tests.fixtures.shared",
    "tests.fixtures.ocr_server",
    "tests.fixtures.s3",
    "tests.fixtures.airflow",
    "tests.fixtures.warehouse",
    "tests.fixtures.flatten",
    "tests.fixtures.demo",
    "tests.fixtures.browser",
    "tests.fixtures.analyst",
]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
