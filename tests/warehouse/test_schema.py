"""DDL: generated files match the generator, an older warehouse gains new columns keeping its
rows, type drift is reported, and configured names are quoted (or refused), never spliced."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clova_etl import schema as declared
from clova_etl.warehouse import (
    ChecksFailedError,
    InvalidIdentifier,
    SchemaMismatchError,
    Warehouse,
    connect,
    quote_ident,
    render_ddl,
    validate_identifier,
)
from clova_etl.warehouse.ddl import create_table_sql, sql_type, warehouse_tables
from clova_etl.warehouse.sqlfiles import (
    DEFAULT_SQL_DIR,
    sql_files,
    stale_sql_files,
    write_sql_files,
)
from clova_etl.warehouse.uri import Dialect
from tests.warehouse.builder import BatchBuilder, rid
from tests.warehouse.conftest import raw_execute, rows


def test_the_sql_folder_is_what_the_code_generates() -> None:
    assert stale_sql_files(DEFAULT_SQL_DIR) == [], (
        "sql/ drifted from the declarations: run `python -m clova_etl.warehouse.sqlfiles`"
    )


def test_the_generator_rewrites_stale_and_stray_files(tmp_path: Path) -> None:
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "retired_check.sql").write_text("SELECT 1")
    (tmp_path / "views.sql").write_text("-- edited by hand")
    changed = write_sql_files(tmp_path)
    assert "checks/retired_check.sql" in changed and "views.sql" in changed
    assert stale_sql_files(tmp_path) == []
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*")) == sorted(
        sql_files()
    )


def test_ddl_types_follow_the_arrow_declaration() -> None:
    fields = declared.OCR_FIELDS
    duck = create_table_sql("duckdb", "ocr", fields)
    pg = create_table_sql("postgres", "ocr", fields)
    assert '"polygon" DOUBLE[]' in duck and '"polygon" double precision[]' in pg
    assert '"request_id" VARCHAR NOT NULL' in duck and '"request_id" text NOT NULL' in pg
    assert 'PRIMARY KEY ("request_id", "image_index", "field_index")' in pg
    assert "PRIMARY KEY" not in duck
    requests = create_table_sql("postgres", "ocr", declared.OCR_REQUESTS)
    assert '"completed_at" timestamptz' in requests
    assert '"completed_at" TIMESTAMPTZ' in create_table_sql("duckdb", "ocr", declared.OCR_REQUESTS)
    for table in warehouse_tables().values():  # every declared type has a spelling
        for column in table.columns:
            sql_type("duckdb", column.type), sql_type("postgres", column.type)
    assert render_ddl("postgres").count("CREATE TABLE") == len(warehouse_tables()) == 10


def test_ensure_creates_every_table_with_its_comments(wh: Warehouse) -> None:
    wh.ensure_schema()
    assert set(wh.row_counts()) == set(warehouse_tables())
    columns = wh.query(
        "SELECT table_name, column_name FROM information_schema.columns "
        f"WHERE table_schema = '{wh.schema}' AND table_name = 'ocr_fields' "
        "ORDER BY ordinal_position"
    )
    assert columns.column("column_name").to_pylist() == declared.OCR_FIELDS.column_names


def test_an_older_warehouse_gains_new_columns_and_keeps_its_rows(
    sql_warehouse_target: tuple[str, str], tmp_path: Path
) -> None:
    # An "old release" of ocr_fields: without its last three columns, one row already in it.
    uri, schema = sql_warehouse_target
    old_columns = declared.OCR_FIELDS.columns[:-3]
    dropped = [c.name for c in declared.OCR_FIELDS.columns[-3:]]
    old = declared.Table("ocr_fields", "old", declared.OCR_FIELDS.key, old_columns)
    dialect: Dialect = "duckdb" if uri.startswith("duckdb") else "postgres"
    raw_execute(
        uri,
        f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}",
        create_table_sql(dialect, schema, old),
        f"INSERT INTO {quote_ident(schema)}.ocr_fields (request_id, image_index, field_index, "
        f"infer_text) VALUES ('{rid(9)}', 0, 0, 'kept')",
    )

    b = BatchBuilder()
    b.request(rid(1), fields=2)
    with connect(uri, schema=schema) as wh:
        wh.load(b.write(tmp_path / "b"), run_id="upgrade")
        fields = rows(wh, "ocr_fields")
    assert {r["request_id"]: r["infer_text"] for r in fields if r["field_index"] == 0} == {
        rid(1): "w0.0",
        rid(9): "kept",
    }
    assert set(dropped) <= set(fields[0])
    old_row = next(r for r in fields if r["request_id"] == rid(9))
    assert [old_row[c] for c in dropped] == [None, None, None]
    new_row = next(r for r in fields if r["request_id"] == rid(1))
    assert new_row["parser_version"] == declared.PARSER_VERSION


def test_a_column_of_another_type_is_reported_not_changed(
    sql_warehouse_target: tuple[str, str],
) -> None:
    uri, schema = sql_warehouse_target
    raw_execute(
        uri,
        f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}",
        f"CREATE TABLE {quote_ident(schema)}.ocr_requests (request_id VARCHAR, "
        "page_start VARCHAR, status VARCHAR, parser_version VARCHAR)",
    )
    with connect(uri, schema=schema) as wh, pytest.raises(SchemaMismatchError) as caught:
        wh.ensure_schema()
    assert "ocr_requests.page_start is" in str(caught.value)
    assert "ALTER TABLE" in str(caught.value)


ODD_NAMES = ['ocr "quoted"; DROP TABLE x; --', "Ocr Mixed Case", "공문서", "o'quote"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_schema_names_are_quoted_not_spliced(
    warehouse_target: tuple[str, str], tmp_path: Path, name: str
) -> None:
    uri, schema = warehouse_target
    if schema != "ocr":  # PostgreSQL: keep the test schema's random part (dropped afterwards)
        name = schema + name
    b = BatchBuilder()
    b.request(rid(1), fields=3)
    with connect(uri, schema=schema) as sentinel:
        sentinel.ensure_schema()
    with connect(uri, schema=name) as wh:
        result = wh.load(b.write(tmp_path / "b"))
        assert result.rows["ocr_fields"] == 3
        assert wh.query("SELECT page_text FROM page_text").column(0).to_pylist() == [
            "w0.0 w0.1\nw0.2"
        ]  # the schema is first on the search path
        assert wh.run_checks()[0].status == "pass"
    with connect(uri, schema=schema) as sentinel:  # nothing leaked into the other schema
        assert sentinel.row_counts()["ocr_fields"] == 0
    if schema != "ocr":
        from tests.fixtures.warehouse import _drop_schema

        _drop_schema(uri, name)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("bad\x00name", "control characters"),
        ("tab\tname", "control characters"),
        ("x" * 64, "longer than 63 bytes"),
        (" ocr", "leading or trailing spaces"),
    ],
)
def test_unusable_schema_names_are_refused_before_connecting(name: str, why: str) -> None:
    with pytest.raises(InvalidIdentifier, match=why):
        validate_identifier(name)
    with pytest.raises(InvalidIdentifier, match=why):
        connect("postgresql://nobody@127.0.0.1:1/none", schema=name)


def test_quote_ident_doubles_quotes() -> None:
    assert quote_ident('a"b') == '"a""b"'
    assert quote_ident("ocr") == '"ocr"'


def test_a_table_without_its_primary_key_is_still_checked_for_duplicates(
    sql_warehouse_target: tuple[str, str], tmp_path: Path
) -> None:
    uri, schema = sql_warehouse_target
    # ocr_fields made by hand, without the PRIMARY KEY clova-etl would give it in PostgreSQL.
    dialect: Dialect = "duckdb" if uri.startswith("duckdb") else "postgres"
    ddl = re.sub(
        r",\s*PRIMARY KEY \([^)]*\)", "", create_table_sql(dialect, schema, declared.OCR_FIELDS)
    )
    raw_execute(uri, f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}", ddl)
    b = BatchBuilder()
    b.request(rid(1), fields=2)
    b.rows["ocr_fields"].append(dict(b.rows["ocr_fields"][0]))
    with connect(uri, schema=schema) as wh, pytest.raises(ChecksFailedError) as caught:
        wh.load(b.write(tmp_path / "b"))
    (failed,) = caught.value.failed
    assert failed.name == "keys_unique"
    assert failed.sample_keys[0].startswith(
        f"ocr_fields(request_id={rid(1)}, image_index=0, field_index=0) [rows=2]"
    )
