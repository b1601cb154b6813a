"""What only an Iceberg warehouse promises: one snapshot per table per load, a killed load leaves
every table at its previous snapshot, concurrent loads (two processes) lose nothing, and a
replay into a new catalog gives the rows DuckDB gives.

The catalog is the SQL catalog on the test PostgreSQL; data files are in a local folder or in a
moto S3 bucket (both, for the tests parametrized by ``iceberg_target``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clova_etl import schema as declared
from clova_etl.cli import main
from clova_etl.warehouse import connect, parse_warehouse_uri
from clova_etl.warehouse.ddl import warehouse_tables
from clova_etl.warehouse.iceberg import SNAPSHOT_LOAD_ID, IcebergWarehouse
from tests.fixtures.warehouse import _iceberg, iceberg_catalog_uri
from tests.warehouse.builder import BatchBuilder, rid
from tests.warehouse.conftest import rows, snapshot

pytestmark = pytest.mark.postgres
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["folder", "s3"])
def iceberg_target(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres_uri: str,
    iceberg_namespace: Callable[[str], str],
) -> tuple[str, str]:
    """(URI, namespace) of an empty Iceberg warehouse: files in a folder, then in moto S3."""
    if request.param == "folder":
        return _iceberg(postgres_uri, (tmp_path / "iceberg").as_uri(), iceberg_namespace)
    bucket = request.getfixturevalue("s3_bucket")
    props = {
        "s3.endpoint": bucket.server.endpoint_url,
        "s3.region": bucket.server.region,
        "s3.access-key-id": bucket.server.key,
        "s3.secret-access-key": bucket.server.secret,
    }
    return _iceberg(postgres_uri, bucket.uri("iceberg"), iceberg_namespace, **props)


def open_iceberg(target: tuple[str, str]) -> IcebergWarehouse:
    wh = connect(target[0], schema=target[1])
    assert isinstance(wh, IcebergWarehouse)
    return wh


def history(wh: IcebergWarehouse) -> dict[str, list[dict[str, Any]]]:
    """Every table's snapshots, oldest first: id, operation and the load that made it."""
    out = {}
    for name in warehouse_tables():
        table = wh._table(name)
        out[name] = [
            {
                "id": s.snapshot_id,
                "operation": str(s.summary.operation) if s.summary else None,
                "load_id": (s.summary.additional_properties or {}).get(SNAPSHOT_LOAD_ID)
                if s.summary
                else None,
            }
            for s in table.metadata.snapshots
        ]
    return out


def two_batches(root: Path) -> tuple[Path, Path]:
    first = BatchBuilder()
    first.request(rid(1), pages=2, fields=6, tables=1, subfields=2)
    first.request(rid(2), fields=3)
    first.obj("s3://bucket/inbox/a.pdf", "a" * 64)
    second = BatchBuilder()
    second.request(rid(3), pages=1, fields=4, tables=1, grid=(3, 3))
    second.request(rid(4), api="template", fields=2, subfields=1)
    second.obj("s3://bucket/inbox/b.pdf", "b" * 64)
    return first.write(root / "b1"), second.write(root / "b2")


def test_each_load_is_one_snapshot_per_table_and_a_reload_changes_no_row(
    iceberg_target: tuple[str, str], tmp_path: Path
) -> None:
    b1, _ = two_batches(tmp_path)
    with open_iceberg(iceberg_target) as wh:
        first = wh.load(b1)
        after_first = history(wh)
        tables = snapshot(wh)
        second = wh.load(b1)
        after_second = history(wh)
        assert snapshot(wh) == tables
        assert len(rows(wh, "ocr_fields")) == 2 * 6 + 3

    for name, snaps in after_first.items():
        assert [s["load_id"] for s in snaps] == [first.load_id], name
        new = after_second[name][len(snaps) :]
        assert [s["load_id"] for s in new] == [second.load_id], name
        # Delete and append of a reload are ONE snapshot: an overwrite, not delete + append.
        if name in declared.TABLES:
            assert new[0]["operation"] == "Operation.OVERWRITE", name


def test_a_reloaded_request_replaces_only_its_rows_in_shared_files(
    iceberg_target: tuple[str, str], tmp_path: Path
) -> None:
    b1, _ = two_batches(tmp_path)
    with open_iceberg(iceberg_target) as wh:
        wh.load(b1)
        kept = rows(wh, "ocr_fields", f"request_id = '{rid(2)}'")
        smaller = BatchBuilder()
        smaller.request(rid(1), pages=1, fields=1)
        wh.load(smaller.write(tmp_path / "small"))
        assert rows(wh, "ocr_fields", f"request_id = '{rid(2)}'") == kept
        assert len(rows(wh, "ocr_fields", f"request_id = '{rid(1)}'")) == 1
        assert rows(wh, "ocr_tables") == []  # rid(1) no longer has a table
        assert {c.status for c in wh.run_checks()} <= {"pass", "skipped"}


def _load_script(uri: str, schema: str, batch: Path, body: str) -> str:
    """A child process's load, with ``body`` as its progress callback (table, n)."""
    head = textwrap.dedent(
        """\
        import logging, os, signal, sys, time
        from pathlib import Path
        from clova_etl.warehouse import connect
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
        def progress(table, n):
        """
    )
    tail = (
        f"with connect({uri!r}, schema={schema!r}) as wh:\n"
        f"    wh.load({str(batch)!r}, on_progress=progress)\n"
    )
    return head + textwrap.indent(textwrap.dedent(body).strip() + "\n", "    ") + tail


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_a_load_killed_mid_way_leaves_every_table_at_its_previous_snapshot(
    iceberg_target: tuple[str, str], tmp_path: Path
) -> None:
    b1, _ = two_batches(tmp_path)
    reload = BatchBuilder()  # rid(1) again, smaller, plus a new request: deletes and inserts
    reload.request(rid(1), pages=1, fields=2)
    reload.request(rid(5), fields=3, tables=1)
    b3 = reload.write(tmp_path / "b3")
    with open_iceberg(iceberg_target) as wh:
        wh.load(b1)
        before, snapshots = snapshot(wh), wh.snapshot_ids()
    # The child has written the new data files of several tables when it is SIGKILLed: no
    # exception handler, no rollback, nothing committed.
    script = _load_script(
        *iceberg_target,
        b3,
        """
        if table == "ocr_table_cells":
            os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -9, done.stderr
    with open_iceberg(iceberg_target) as wh:
        assert wh.snapshot_ids() == snapshots
        assert snapshot(wh) == before
        assert [r["status"] for r in rows(wh, "etl_loads")] == ["succeeded"]
        wh.load(b3)  # the same load again completes
        assert len(rows(wh, "ocr_requests")) == 3
        assert len(rows(wh, "ocr_fields", f"request_id = '{rid(1)}'")) == 2


def test_two_processes_loading_different_requests_at_once_lose_no_row(
    iceberg_target: tuple[str, str], tmp_path: Path
) -> None:
    b1, b2 = two_batches(tmp_path)
    with open_iceberg(iceberg_target) as wh:
        wh.ensure_schema()  # both children find the tables
    # Both children write every table's files, wait for each other, then commit at once: the
    # second commit of each table conflicts and must be re-planned, not lost.
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    wait = f"""
        if table == "ocr_cell_words":
            Path({str(barrier)!r}, str(os.getpid())).touch()
            deadline = time.monotonic() + 120
            while len(list(Path({str(barrier)!r}).iterdir())) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        """
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _load_script(*iceberg_target, batch, wait)],
            cwd=REPO,
            env=_child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for batch in (b1, b2)
    ]
    outputs = [child.communicate(timeout=600) for child in children]
    for child, (_, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
    # Both prepared every OCR table on the same snapshots: the later commits had to conflict.
    assert any("concurrent" in err for _, err in outputs)
    with open_iceberg(iceberg_target) as wh:
        requests = [r["request_id"] for r in rows(wh, "ocr_requests")]
        assert sorted(requests) == sorted([rid(1), rid(2), rid(3), rid(4)])
        assert len(rows(wh, "ocr_fields")) == 2 * 6 + 3 + 4 + 2
        assert len(rows(wh, "etl_objects")) == 2
        assert [r["status"] for r in rows(wh, "etl_loads")] == ["succeeded"] * 2
        checks = {c.name: c for c in wh.run_checks()}
        assert checks["keys_unique"].status == "pass"
        assert checks["parents_exist"].status == "pass"
        # Each table holds exactly the two loads' snapshots: no lost or doubled commit.
        for name in declared.TABLES:
            assert len(history(wh)[name]) == 2, name


def test_queries_see_other_writers_commits(iceberg_target: tuple[str, str], tmp_path: Path) -> None:
    b1, b2 = two_batches(tmp_path)
    with open_iceberg(iceberg_target) as reader, open_iceberg(iceberg_target) as writer:
        writer.load(b1)
        assert len(rows(reader, "ocr_requests")) == 2
        writer.load(b2)
        assert len(rows(reader, "ocr_requests")) == 4
        page_text = reader.query("SELECT request_id, page_text FROM page_text ORDER BY ALL")
        assert page_text.num_rows == 2 + 1 + 1 + 1


def test_secrets_in_the_uri_are_never_shown(iceberg_target: tuple[str, str]) -> None:
    # moto's key id and secret are both "testing": give the URI a secret of its own.
    uri = re.sub(r"&s3\.secret-access-key=[^&]*", "", iceberg_target[0])
    uri += "&s3.secret-access-key=Sup3r%2FS3cret"
    parsed = parse_warehouse_uri(uri.replace("postgres@", "postgres:Pa55w0rd@"))
    shown = f"{parsed} {parsed!r}"
    assert "Pa55w0rd" not in shown and "***" in shown
    secret = [s for s in parsed.secrets if s != "Pa55w0rd"]
    assert secret and all(s not in shown for s in secret)


def test_ingest_to_iceberg_then_replay_into_a_new_catalog_gives_duckdbs_rows(
    tmp_path: Path,
    postgres_uri: str,
    pg_schema: Callable[[str], str],
    start_ocr_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.pipeline.conftest import jpeg

    server = start_ocr_server()
    monkeypatch.setenv("CLOVA_OCR_INVOKE_URL", server.invoke_url())
    monkeypatch.setenv("CLOVA_OCR_SECRET", server.secret)
    bucket = tmp_path / "bucket" / "inbox" / "general"
    bucket.mkdir(parents=True)
    for i in range(3):
        (bucket / f"doc {i}.jpg").write_bytes(jpeg(seed=60 + i))
    (bucket / "notes.txt").write_bytes(b"not a scan")
    store = str(tmp_path / "store")
    # ingest loads into namespace "ocr": the catalog's own tables go to a throw-away schema.
    catalog_schema = pg_schema("iceberg_catalog_")
    first = iceberg_catalog_uri(postgres_uri, (tmp_path / "ice1").as_uri(), catalog_schema)
    ingest = ["ingest", "--source", str(tmp_path / "bucket"), "--store", store]
    assert main([*ingest, "--warehouse", first]) == 0

    duck = f"duckdb:///{tmp_path / 'replay.duckdb'}"
    fresh = f"iceberg:///{tmp_path / 'fresh' / 'catalog.db'}?warehouse={tmp_path.as_uri()}/ice2"
    for uri in (duck, fresh):
        assert main(["replay", "--store", store, "--warehouse", uri, "--all"]) == 0
    with connect(first) as a, connect(duck) as b, connect(fresh) as c:
        ingested = snapshot(a)
        assert len(ingested["ocr_requests"]) == 4
        assert snapshot(b) == ingested
        assert snapshot(c) == ingested
    assert server.stats()["total_calls"] == 3


def test_a_wrong_catalog_is_a_clear_error(tmp_path: Path) -> None:
    from clova_etl.warehouse import WarehouseError

    uri = "iceberg+rest://127.0.0.1:9/catalog?warehouse=s3://b/p&token=T0k3n"
    started = time.monotonic()
    with pytest.raises(WarehouseError) as caught, connect(uri) as wh:
        wh.ensure_schema()
    assert "T0k3n" not in str(caught.value)
    assert time.monotonic() - started < 60


def test_maintain_compacts_expires_and_deletes_unused_files_keeping_the_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "files"
    uri = f"iceberg:///{tmp_path / 'catalog.db'}?warehouse={folder.as_uri()}"
    b1, b2 = two_batches(tmp_path)
    with connect(uri) as wh:
        for _ in range(3):
            wh.load(b1)
            wh.load(b2)
        before = snapshot(wh)
    parquet_before = len(list(folder.rglob("*.parquet")))
    args = ["maintain", "--warehouse", uri, "--older-than", "0d", "--min-files", "2", "--json"]
    assert main([*args, "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["dry_run"] is True
    assert len(list(folder.rglob("*.parquet"))) == parquet_before
    assert main(args) == 0
    report = {t["table"]: t for t in json.loads(capsys.readouterr().out)["tables"]}
    fields = report["ocr_fields"]
    assert fields["files_before"] >= 2 and fields["files_after"] == 1
    assert fields["snapshots_expired"] >= 6 and fields["files_deleted"] > 0
    assert len(list(folder.rglob("*.parquet"))) < parquet_before
    with connect(uri) as wh:
        assert snapshot(wh) == before
        assert all(len(h) == 1 for h in history(wh).values())
        wh.load(b1)  # and loads go on
        assert snapshot(wh) == before


def test_the_trino_views_give_the_views_rows_over_the_iceberg_scans(
    iceberg_target: tuple[str, str], tmp_path: Path
) -> None:
    from clova_etl.warehouse.sqlfiles import DEFAULT_SQL_DIR
    from clova_etl.warehouse.trino import render_trino_views, to_trino
    from clova_etl.warehouse.views import VIEWS

    assert (DEFAULT_SQL_DIR / "iceberg" / "views_trino.sql").read_text() == render_trino_views()
    b1, b2 = two_batches(tmp_path)
    with open_iceberg(iceberg_target) as wh:
        wh.load(b1)
        wh.load(b2)
        # DuckDB spells Trino's array_join as array_to_string.
        wh._con.execute("CREATE OR REPLACE MACRO array_join(a, s) AS array_to_string(a, s)")
        for view in VIEWS:
            trino_sql = to_trino(view.select_sql(wh.schema))
            assert "string_agg" not in trino_sql
            expected = wh.query(f"SELECT * FROM {view.name}").to_pylist()
            got = wh.query(trino_sql).to_pylist()
            key = repr
            assert sorted(got, key=key) == sorted(expected, key=key), view.name
            if view.name == "page_text":
                assert expected and all(r["page_text"] is not None for r in expected)


def _catalog(uri: str) -> Any:
    from pyiceberg.catalog import load_catalog

    from clova_etl.warehouse.iceberg_uri import catalog_properties

    return load_catalog("clova", **catalog_properties(uri))


def test_an_older_iceberg_table_gains_new_columns_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    import pyarrow as pa

    uri = f"iceberg:///{tmp_path / 'catalog.db'}?warehouse={(tmp_path / 'files').as_uri()}"
    # An "old release" of ocr_fields: without its last three columns, one row already in it.
    old = pa.schema([c.field for c in declared.OCR_FIELDS.columns[:-3]])
    catalog = _catalog(uri)
    catalog.create_namespace("ocr")
    table = catalog.create_table(("ocr", "ocr_fields"), schema=old)
    row = {c: None for c in old.names} | {
        "request_id": rid(9), "image_index": 0, "field_index": 0, "infer_text": "kept",
    }  # fmt: skip
    table.append(pa.Table.from_pylist([row], schema=old))
    catalog.engine.dispose()

    b = BatchBuilder()
    b.request(rid(1), fields=2)
    with connect(uri) as wh:
        wh.load(b.write(tmp_path / "b"))
        fields = rows(wh, "ocr_fields")
    assert {r["request_id"]: r["infer_text"] for r in fields if r["field_index"] == 0} == {
        rid(1): "w0.0",
        rid(9): "kept",
    }
    old_row = next(r for r in fields if r["request_id"] == rid(9))
    assert [old_row[c.name] for c in declared.OCR_FIELDS.columns[-3:]] == [None, None, None]


def test_an_iceberg_column_of_another_type_is_reported_not_changed(tmp_path: Path) -> None:
    import pyarrow as pa

    from clova_etl.warehouse import SchemaMismatchError

    uri = f"iceberg:///{tmp_path / 'catalog.db'}?warehouse={(tmp_path / 'files').as_uri()}"
    catalog = _catalog(uri)
    catalog.create_namespace("ocr")
    schema = pa.schema([("request_id", pa.string()), ("page_start", pa.string())])
    catalog.create_table(("ocr", "ocr_requests"), schema=schema)
    catalog.engine.dispose()
    with connect(uri) as wh, pytest.raises(SchemaMismatchError) as caught:
        wh.ensure_schema()
    assert "ocr_requests.page_start is" in str(caught.value)
