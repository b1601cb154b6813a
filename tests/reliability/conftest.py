"""PostgreSQL for the reliability tests: a fresh database on the shared server, or a private one.

- ``pg_database``: a new database on the shared server at 127.0.0.1:5432 (dropped afterwards);
  skipped when the server is unreachable outside CI, a failure in CI.
- ``private_postgres``: a PostgreSQL cluster of this test alone (``initdb`` in a temp folder,
  a free port on 127.0.0.1), so the test can restart the *server* mid-load without disturbing
  anyone else's tests against the shared one. Needs the PostgreSQL binaries and root (to run
  them as the ``postgres`` user); skipped otherwise outside CI, a failure in CI.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.net import free_port
from tests.fixtures.shared import skip_or_fail

ADMIN_URI = os.environ.get("CLOVA_ETL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _server_uri(database: str) -> str:
    return ADMIN_URI.rsplit("/", 1)[0] + "/" + database


@pytest.fixture
def pg_database() -> Iterator[str]:
    """URI of a fresh database on the shared PostgreSQL server."""
    import psycopg

    try:
        conn = psycopg.connect(ADMIN_URI, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is unreachable in CI: {exc}")
        pytest.skip(f"PostgreSQL is unreachable: {exc}")
    name = f"clova_rel_{uuid.uuid4().hex[:10]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _server_uri(name)
    finally:
        with psycopg.connect(ADMIN_URI, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster owned by one test."""

    bindir: Path
    home: Path
    port: int

    @property
    def uri(self) -> str:
        """URI of its ``postgres`` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str, timeout: float = 60) -> None:
        """Run ``pg_ctl`` on it as the postgres user (waits for completion)."""
        opts = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.home / "data"),
                "-l",
                str(self.home / "server.log"),
                "-o",
                opts,
                "-w",
                "-t",
                "30",
                *args,
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    def restart(self) -> None:
        """Restart the server: fast shutdown (every session terminated), then start, waited."""
        self.ctl("-m", "fast", "restart")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A throw-away PostgreSQL cluster on a free port of 127.0.0.1."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found or os.geteuid() != 0 or not shutil.which("runuser"):
        skip_or_fail("a private PostgreSQL cluster needs the server binaries and root")
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        skip_or_fail("no postgres user to run a private cluster as")
    bindir = Path(found[-1]).parent
    home = Path(tempfile.mkdtemp(prefix="clova-etl-pg-"))
    os.chown(home, owner.pw_uid, owner.pw_gid)
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(bindir / "initdb"),
            "-D",
            str(home / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = PrivatePostgres(bindir, home, free_port())
    server.ctl("start")
    try:
        yield server
    finally:
        try:
            server.ctl("-m", "immediate", "stop")
        finally:
            shutil.rmtree(home, ignore_errors=True)
