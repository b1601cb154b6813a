"""Fixtures of the warehouse tests: a connected warehouse per engine, helpers to read it back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from clova_etl import schema as declared
from clova_etl.warehouse import Warehouse, connect
from clova_etl.warehouse.ddl import qualified


@pytest.fixture
def wh(warehouse_target: tuple[str, str]) -> Iterator[Warehouse]:
    """An empty warehouse (schema not yet created), once per engine."""
    uri, schema = warehouse_target
    with connect(uri, schema=schema) as warehouse:
        yield warehouse


def rows(wh: Warehouse, table: str, where: str = "TRUE") -> list[dict[str, Any]]:
    """Every row of ``table`` (matching ``where``), ordered by its key, as dicts."""
    spec = (
        declared.TABLES.get(table)
        or {t.name: t for t in (declared.ETL_OBJECTS, *declared.AUDIT_TABLES.values())}[table]
    )
    order = ", ".join(spec.key)
    found: list[dict[str, Any]] = wh.query(
        f"SELECT * FROM {qualified(wh.schema, table)} WHERE {where} ORDER BY {order}"
    ).to_pylist()
    return found


def snapshot(wh: Warehouse) -> dict[str, list[dict[str, Any]]]:
    """The contents of every OCR table and etl_objects, in key order."""
    return {name: rows(wh, name) for name in [*declared.TABLES, declared.ETL_OBJECTS.name]}


def raw_execute(uri: str, *statements: str) -> None:
    """Run statements with the engine's own driver (to shape a warehouse as an older release)."""
    if uri.startswith("duckdb:"):
        import duckdb

        con = duckdb.connect(uri.removeprefix("duckdb:///"))
        try:
            for statement in statements:
                con.execute(statement)
        finally:
            con.close()
        return
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(uri) as con, con.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
        con.commit()
