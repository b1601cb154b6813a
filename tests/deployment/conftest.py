"""The session's CeleryExecutor deployment (see ``cluster.py``), started once for every scenario.

Needs Airflow with the Celery provider (``.[celery]``), Redis at 127.0.0.1:6379 and PostgreSQL
at 127.0.0.1:5432. Outside CI a missing piece skips the tests with the reason; in CI it fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deployment.cluster import POSTGRES_ADMIN_URI, REDIS_URL, Cluster, running_cluster

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing() -> str | None:
    """Why the deployment cannot start here, or None."""
    try:
        import airflow.providers.celery  # noqa: F401
        import celery  # noqa: F401
        import psutil  # noqa: F401
        import psycopg
        import redis
    except ImportError as exc:
        return f"{exc}: install clova-etl[airflow,celery] with the constraints file"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis at {REDIS_URL} is unreachable: {exc}"
    try:
        with psycopg.connect(POSTGRES_ADMIN_URI, connect_timeout=3) as con:
            con.execute("SELECT 1")
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_ADMIN_URI} is unreachable: {exc}"
    return None


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Airflow 3.3 with the CeleryExecutor and two workers, all as separate processes."""
    reason = _missing()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason}; CI must provide it")
        pytest.skip(reason)
    root: Path = tmp_path_factory.mktemp("deployment")
    with running_cluster(root) as started:
        yield started
