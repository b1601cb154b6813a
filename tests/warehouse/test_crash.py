"""A load that dies halfway for real: the process is killed, or its connection is cut."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import adbc_driver_postgresql.dbapi as pg
import pytest

from clova_etl.warehouse import WarehouseUnavailableError, connect
from tests.warehouse.builder import BatchBuilder, rid
from tests.warehouse.conftest import rows, snapshot

REPO = Path(__file__).resolve().parents[2]


def batches(tmp_path: Path) -> tuple[Path, Path]:
    first = BatchBuilder()
    first.request(rid(1), pages=2, fields=6, tables=1)
    first.request(rid(2), fields=3)
    second = BatchBuilder()
    second.request(rid(1), pages=1, fields=2, tables=1, grid=(3, 3))
    second.request(rid(3), fields=4)
    return first.write(tmp_path / "b1"), second.write(tmp_path / "b2")


def test_duckdb_process_killed_mid_load_leaves_the_previous_state(tmp_path: Path) -> None:
    b1, b2 = batches(tmp_path)
    uri = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    with connect(uri) as wh:
        wh.load(b1)
        before = snapshot(wh)
    # The child deletes rid(1)'s rows and inserts three tables, then dies without a word:
    # no rollback, no close; DuckDB must discard the uncommitted work on the next open.
    script = textwrap.dedent(
        f"""
        import os
        from clova_etl.warehouse import connect
        def die(table, n):
            if table == "ocr_tables":
                os._exit(9)
        connect({uri!r}).load({str(b2)!r}, on_progress=die)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 9, done.stderr
    with connect(uri) as wh:
        assert snapshot(wh) == before
        assert [r["status"] for r in rows(wh, "etl_loads")] == ["succeeded"]
        wh.load(b2)  # and the warehouse is usable afterwards
        assert len(rows(wh, "ocr_requests")) == 3


@pytest.mark.postgres
def test_postgres_connection_cut_mid_load_is_transient_and_leaves_the_previous_state(
    tmp_path: Path, postgres_uri: str, pg_schema: object
) -> None:
    b1, b2 = batches(tmp_path)
    schema = pg_schema("ocr_test_")  # type: ignore[operator]
    with connect(postgres_uri, schema=schema) as wh:
        wh.load(b1)
        before = snapshot(wh)
        (pid,) = wh.query("SELECT pg_backend_pid() AS pid").column("pid").to_pylist()

        def cut(table: str, n: int) -> None:
            if table == "ocr_tables":
                with pg.connect(postgres_uri) as admin, admin.cursor() as cur:
                    cur.execute(f"SELECT pg_terminate_backend({int(pid)})")
                    cur.fetchall()

        with pytest.raises(WarehouseUnavailableError) as caught:
            wh.load(b2, on_progress=cut)
        assert caught.value.transient
        assert "retry" in str(caught.value)

    with connect(postgres_uri, schema=schema) as wh:
        assert snapshot(wh) == before
        wh.load(b2)  # a retry on a new connection succeeds
        assert len(rows(wh, "ocr_requests")) == 3
