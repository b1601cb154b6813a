"""DDL for both dialects, derived from the one schema declaration (:mod:`clova_etl.schema`).

Keys: PostgreSQL tables get a PRIMARY KEY on the declared key (it also serves the delete by
request_id of every reload). DuckDB tables get none: an ART index makes DuckDB's bulk insert of
Parquet about 2.3x slower (measured, see bench/RESULTS.md), so there the declared keys are
enforced by the blocking ``keys_unique`` check inside the load transaction instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from clova_etl import schema as declared
from clova_etl.schema import Column, Table
from clova_etl.warehouse.uri import DEFAULT_SCHEMA, Dialect, quote_ident, quote_literal


@dataclass(frozen=True)
class SqlType:
    """How one Arrow type is spelled in a dialect's DDL and in its information_schema."""

    ddl: str
    info: str
    """``information_schema.columns.data_type`` (PostgreSQL arrays: ``udt_name``) as reported."""


_TYPES: dict[Dialect, list[tuple[pa.DataType, SqlType]]] = {
    "duckdb": [
        (pa.string(), SqlType("VARCHAR", "VARCHAR")),
        (pa.int32(), SqlType("INTEGER", "INTEGER")),
        (pa.int64(), SqlType("BIGINT", "BIGINT")),
        (pa.float64(), SqlType("DOUBLE", "DOUBLE")),
        (pa.bool_(), SqlType("BOOLEAN", "BOOLEAN")),
        (pa.timestamp("us", tz="UTC"), SqlType("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE")),
        (pa.list_(pa.float64()), SqlType("DOUBLE[]", "DOUBLE[]")),
    ],
    "postgres": [
        (pa.string(), SqlType("text", "text")),
        (pa.int32(), SqlType("integer", "integer")),
        (pa.int64(), SqlType("bigint", "bigint")),
        (pa.float64(), SqlType("double precision", "double precision")),
        (pa.bool_(), SqlType("boolean", "boolean")),
        (pa.timestamp("us", tz="UTC"), SqlType("timestamptz", "timestamp with time zone")),
        (pa.list_(pa.float64()), SqlType("double precision[]", "_float8")),
    ],
}


def sql_type(dialect: Dialect, type_: pa.DataType) -> SqlType:
    """The dialect's type for an Arrow type of the declaration."""
    for arrow, sql in _TYPES[dialect]:
        if arrow.equals(type_):
            return sql
    raise TypeError(f"no {dialect} type declared for Arrow type {type_}; extend ddl._TYPES")


def warehouse_tables() -> dict[str, Table]:
    """Every table the warehouse holds, in creation order: OCR tables, etl_objects, audit."""
    objects = declared.ETL_OBJECTS
    return {**declared.TABLES, objects.name: objects, **declared.AUDIT_TABLES}


def qualified(schema: str, table: str) -> str:
    """``"schema"."table"``, both quoted."""
    return f"{quote_ident(schema)}.{quote_ident(table)}"


def column_sql(dialect: Dialect, column: Column, *, for_add: bool = False) -> str:
    """A column definition; NOT NULL is left out when adding to a table that has rows."""
    spec = f"{quote_ident(column.name)} {sql_type(dialect, column.type).ddl}"
    if not column.nullable and not for_add:
        spec += " NOT NULL"
    return spec


def create_table_sql(dialect: Dialect, schema: str, table: Table) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for one declared table."""
    lines = [column_sql(dialect, c) for c in table.columns]
    if dialect == "postgres":
        lines.append(f"PRIMARY KEY ({', '.join(quote_ident(k) for k in table.key)})")
    body = ",\n    ".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {qualified(schema, table.name)} (\n    {body}\n)"


def comment_sql(
    schema: str, table: Table, columns: Iterable[Column] | None = None
) -> Iterator[str]:
    """``COMMENT ON`` statements carrying the declaration's descriptions (same in both dialects)."""
    name = qualified(schema, table.name)
    if columns is None:
        about = f"{table.description} Grain: {table.grain}. Key: {', '.join(table.key)}."
        yield f"COMMENT ON TABLE {name} IS {quote_literal(about.strip())}"
        columns = table.columns
    for c in columns:
        yield f"COMMENT ON COLUMN {name}.{quote_ident(c.name)} IS {quote_literal(c.description)}"


def add_column_sql(dialect: Dialect, schema: str, table: Table, column: Column) -> str:
    """``ALTER TABLE … ADD COLUMN`` for a column an older warehouse lacks."""
    return (
        f"ALTER TABLE {qualified(schema, table.name)} "
        f"ADD COLUMN {column_sql(dialect, column, for_add=True)}"
    )


def ddl_statements(dialect: Dialect, schema: str = DEFAULT_SCHEMA) -> list[str]:
    """Every statement that creates the warehouse's schema and tables (views excluded)."""
    statements = [f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}"]
    for table in warehouse_tables().values():
        statements.append(create_table_sql(dialect, schema, table))
        statements.extend(comment_sql(schema, table))
    return statements


def render_ddl(dialect: Dialect, schema: str = DEFAULT_SCHEMA) -> str:
    """The DDL script of ``sql/ddl/<dialect>.sql``."""
    head = (
        f"-- clova-etl warehouse DDL for {dialect}, schema {schema!r}.\n"
        "-- GENERATED from clova_etl/schema.py by `python -m clova_etl.warehouse.sqlfiles`;\n"
        "-- do not edit by hand (a test compares this file with the generator).\n"
    )
    if dialect == "duckdb":
        head += (
            "-- DuckDB tables carry no PRIMARY KEY (an index slows bulk loads ~2.3x); the\n"
            "-- blocking check keys_unique enforces the declared keys at every load.\n"
        )
    body = "".join(s + ";\n\n" for s in ddl_statements(dialect, schema))
    return head + "\n" + body.rstrip() + "\n"


__all__ = [
    "SqlType",
    "add_column_sql",
    "column_sql",
    "comment_sql",
    "create_table_sql",
    "ddl_statements",
    "qualified",
    "render_ddl",
    "sql_type",
    "warehouse_tables",
]
