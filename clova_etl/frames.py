"""The analyst's Python API: any clova-etl table or view as a pandas DataFrame (or Arrow).

    import clova_etl
    fields = clova_etl.read("ocr_fields", warehouse="duckdb:///data/warehouse.duckdb",
                            since="2026-11-01", source_uri_like="%/invoices/%")

The same call works on DuckDB and PostgreSQL. Filters apply to the request a row belongs to
(its ``source_uri``, ``run_id`` and ``completed_at``), or, on the audit tables, to their own
columns. Values are passed to SQL as quoted literals, never spliced raw.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from clova_etl.schema import AUDIT_TABLES, ETL_OBJECTS, TABLES
from clova_etl.warehouse.ddl import qualified
from clova_etl.warehouse.uri import quote_ident, quote_literal
from clova_etl.warehouse.views import VIEWS

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["RELATIONS", "read", "relations"]

WAREHOUSE_ENV = "CLOVA_ETL_WAREHOUSE_URI"

# Relation -> the column ``since``/``until`` compare, when the relation has its own time.
_OWN_TIME: dict[str, str] = {
    "ocr_requests": "completed_at",
    "etl_objects": "updated_at",
    "etl_loads": "started_at",
    "etl_check_results": "checked_at",
    "failed_requests": "completed_at",
    "failed_objects": "updated_at",
    "current_results": "completed_at",
}

RELATIONS: tuple[str, ...] = (
    *TABLES,
    ETL_OBJECTS.name,
    *AUDIT_TABLES,
    *(v.name for v in VIEWS),
)
"""Every table and view :func:`read` serves."""


def relations() -> list[str]:
    """Names :func:`read` accepts: the seven OCR tables, etl_objects, the audit tables, views."""
    return list(RELATIONS)


def _timestamp(value: str | date | datetime) -> str:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"not an ISO date or time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"CAST({quote_literal(moment.astimezone(UTC).isoformat())} AS TIMESTAMPTZ)"


def _declared(name: str) -> Any:
    table = TABLES.get(name) or AUDIT_TABLES.get(name)
    return table or (ETL_OBJECTS if name == ETL_OBJECTS.name else None)


def build_query(
    name: str,
    schema: str,
    columns_present: set[str],
    *,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    source_uri_like: str | None = None,
    run_id: str | None = None,
    columns: list[str] | None = None,
    limit: int | None = None,
) -> str:
    """The SELECT :func:`read` runs (both dialects)."""
    select = ", ".join(f"t.{quote_ident(c)}" for c in columns) if columns else "t.*"
    own_time = _OWN_TIME.get(name)
    needs_request = (
        ((since is not None or until is not None) and own_time is None)
        or (source_uri_like is not None and "source_uri" not in columns_present)
        or (run_id is not None and "run_id" not in columns_present)
    )
    if needs_request and "request_id" not in columns_present:
        raise ValueError(f"{name} cannot be filtered by source, run or time")
    sql = f"SELECT {select} FROM {qualified(schema, name)} AS t"
    if needs_request:
        sql += f" JOIN {qualified(schema, 'ocr_requests')} AS r ON r.request_id = t.request_id"
    where: list[str] = []

    def col(column: str) -> str:
        return f"t.{column}" if column in columns_present else f"r.{column}"

    time_column = f"t.{own_time}" if own_time else "r.completed_at"
    if since is not None:
        where.append(f"{time_column} >= {_timestamp(since)}")
    if until is not None:
        where.append(f"{time_column} < {_timestamp(until)}")
    if source_uri_like is not None:
        where.append(f"{col('source_uri')} LIKE {quote_literal(source_uri_like)}")
    if run_id is not None:
        where.append(f"{col('run_id')} = {quote_literal(run_id)}")
    if where:
        sql += " WHERE " + " AND ".join(where)
    declared = _declared(name)
    if declared is not None:
        sql += " ORDER BY " + ", ".join(f"t.{quote_ident(k)}" for k in declared.key)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql


def _conform(name: str, table: pa.Table) -> pa.Table:
    """Give PostgreSQL's inferred columns the declared Arrow types (same frames on both)."""
    import pyarrow as pa

    declared = _declared(name)
    if declared is None:
        return table
    types = {c.name: c.type for c in declared.columns}
    arrays, fields = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        want = types.get(field.name)
        if want is not None and field.type != want:
            column = column.cast(want)
            field = pa.field(field.name, want)
        arrays.append(column)
        fields.append(field)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def read(
    name: str,
    *,
    warehouse: str | None = None,
    schema: str = "ocr",
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    source_uri_like: str | None = None,
    run_id: str | None = None,
    columns: list[str] | None = None,
    limit: int | None = None,
    as_arrow: bool = False,
) -> Any:
    """Rows of a clova-etl table or view as a pandas DataFrame (``as_arrow=True``: Arrow).

    ``warehouse`` defaults to ``$CLOVA_ETL_WAREHOUSE_URI``. ``since``/``until`` bound the time
    the request was answered (ISO text, ``date`` or ``datetime``; naive means UTC), or the
    audit row's own time; ``source_uri_like`` is an SQL ``LIKE`` pattern; ``run_id`` a run.
    """
    import os

    from clova_etl.warehouse import connect
    from clova_etl.warehouse.errors import WarehouseConfigError

    if name not in RELATIONS:
        raise ValueError(f"unknown table or view {name!r}; one of: {', '.join(RELATIONS)}")
    uri = warehouse or os.environ.get(WAREHOUSE_ENV)
    if not uri:
        raise WarehouseConfigError(f"give warehouse='duckdb:///…' or set ${WAREHOUSE_ENV}")
    with connect(uri, schema=schema) as wh:
        present = {
            str(r["column_name"])
            for r in wh.query(
                "SELECT column_name FROM information_schema.columns "
                f"WHERE table_schema = {quote_literal(schema)} "
                f"AND table_name = {quote_literal(name)}"
            ).to_pylist()
        }
        if not present:
            raise WarehouseConfigError(
                f"{schema}.{name} does not exist in {wh.uri}: has anything been loaded yet?"
            )
        unknown = sorted(set(columns or ()) - present)
        if unknown:
            raise ValueError(f"{name} has no column(s) {', '.join(unknown)}")
        sql = build_query(
            name,
            schema,
            present,
            since=since,
            until=until,
            source_uri_like=source_uri_like,
            run_id=run_id,
            columns=columns,
            limit=limit,
        )
        table = _conform(name, wh.query(sql))
    if as_arrow:
        return table
    import importlib.util

    if importlib.util.find_spec("pandas") is None:
        raise ModuleNotFoundError(
            "clova_etl.read returns pandas DataFrames: pip install 'clova-etl[pandas]' "
            "(or pass as_arrow=True)"
        )
    return table.to_pandas()
