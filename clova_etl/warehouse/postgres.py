"""PostgreSQL destination over ADBC: Arrow batches go in by binary COPY, in the load's transaction.

One ADBC connection (autocommit off) carries everything: DDL, the deletes, the Arrow-native
ingest (``adbc_ingest``, which is ``COPY … FROM STDIN (FORMAT binary)`` fed from Arrow in C),
checks and audit rows, so a load commits or rolls back as one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as pg_dbapi
import pyarrow as pa

from clova_etl.warehouse.batch import TableFiles
from clova_etl.warehouse.ddl import qualified
from clova_etl.warehouse.errors import (
    DataRejectedError,
    ParquetInputError,
    SchemaMismatchError,
    WarehouseError,
    WarehouseUnavailableError,
)
from clova_etl.warehouse.loader import Warehouse
from clova_etl.warehouse.uri import DEFAULT_SCHEMA, WarehouseURI, quote_ident
from clova_etl.warehouse.views import View

log = logging.getLogger(__name__)

_BATCH_ROWS = 128 * 1024
# SQLSTATE classes/codes after which a retry may succeed.
_TRANSIENT_STATES = ("08", "40001", "40P01", "53", "57P01", "57P02", "57P03", "55P03", "57014")
_CONNECTION_WORDS = (
    "server closed the connection",
    "connection to server",
    "terminating connection",
    "no connection to the server",
    "could not connect",
    "connection refused",
)


class PostgresWarehouse(Warehouse):
    """A PostgreSQL database as the warehouse."""

    dialect = "postgres"

    def __init__(self, uri: WarehouseURI, *, schema: str = DEFAULT_SCHEMA, **kwargs: Any) -> None:
        super().__init__(uri, schema=schema, **kwargs)
        try:
            self._con = pg_dbapi.connect(uri.target)
        except Exception as exc:
            raise self._unavailable(exc, "cannot connect to") from None
        self._cur = self._con.cursor()
        # Queries typed by analysts find the tables and views without the schema prefix.
        self._cur.execute(f"SET search_path TO {quote_ident(self.schema)}, public")
        self._con.commit()

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back by the server)."""
        for closable in (self._cur, self._con):
            try:
                closable.close()
            except Exception as exc:
                log.debug("closing %s: %s", self, self._redact(exc))

    # --- primitives ------------------------------------------------------------------------

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cur.execute(sql, parameters=tuple(params) if params else None)
        return int(self._cur.rowcount)

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        self._cur.execute(sql, parameters=tuple(params) if params else None)
        table: pa.Table = self._cur.fetch_arrow_table()
        return table

    def _begin(self) -> None:
        # Autocommit is off: ADBC opens a transaction at connect and after every commit or
        # rollback, so a transaction is already open here.
        pass

    def _commit(self) -> None:
        self._con.commit()

    def _rollback(self) -> None:
        self._con.rollback()

    def _lock(self) -> None:
        # One load (or DDL run) per schema at a time: two loads of overlapping request_ids
        # would otherwise both delete, then collide on the primary keys.
        self._execute("SELECT pg_advisory_xact_lock(hashtext($1))", [f"clova_etl:{self.schema}"])

    def _temp_table(self, name: str, data: pa.Table) -> str:
        self._cur.adbc_ingest(name, data, mode="replace", temporary=True)
        qualified_name = f"pg_temp.{quote_ident(name)}"
        self._execute(f"ANALYZE {qualified_name}")
        return qualified_name

    def _stage_files(self, name: str, files: TableFiles) -> str:
        full = pa.schema([pa.field(c.name, c.type) for c in files.table.columns])
        reader = files.dataset().scanner(batch_size=_BATCH_ROWS).to_reader()
        # Columns some files lack come through as nulls of the declared type.
        missing = [f for f in full if f.name not in files.columns]
        if missing:
            reader = _with_null_columns(reader, full)
        self._cur.adbc_ingest(name, reader, mode="replace", temporary=True)
        return f"pg_temp.{quote_ident(name)}"

    def _insert_files(self, files: TableFiles) -> int:
        reader = files.dataset().scanner(batch_size=_BATCH_ROWS).to_reader()
        rows = self._cur.adbc_ingest(
            files.table.name, reader, mode="append", db_schema_name=self.schema
        )
        return int(rows)

    def _append(self, table: str, data: pa.Table) -> None:
        self._cur.adbc_ingest(table, data, mode="append", db_schema_name=self.schema)

    def _after_insert(self, tables: Sequence[str]) -> None:
        # The checks run before COMMIT, when autovacuum has not yet seen the new rows: fresh
        # statistics keep the planner from treating a million-row table as empty.
        for table in tables:
            self._execute(f"ANALYZE {qualified(self.schema, table)}")

    def _create_view(self, view: View) -> None:
        # CREATE OR REPLACE VIEW cannot drop or rename columns; a view whose shape changed
        # between versions is dropped and created again.
        self._execute("SAVEPOINT clova_view")
        try:
            self._execute(view.create_sql(self.schema))
        except adbc_driver_manager.Error:
            self._execute("ROLLBACK TO SAVEPOINT clova_view")
            try:
                self._execute(f"DROP VIEW IF EXISTS {qualified(self.schema, view.name)}")
                self._execute(view.create_sql(self.schema))
            except adbc_driver_manager.Error as exc:
                raise SchemaMismatchError(
                    f"cannot replace view {self.schema}.{view.name} ({self._redact(exc)}); "
                    "objects of yours depend on it: drop them, load, and create them again"
                ) from exc
        self._execute("RELEASE SAVEPOINT clova_view")
        self._execute(view.comment_sql(self.schema))

    def _column_types(self) -> dict[str, dict[str, str]]:
        table = self._fetch(
            "SELECT table_name::text AS table_name, column_name::text AS column_name, "
            "CASE WHEN data_type = 'ARRAY' THEN udt_name::text ELSE data_type::text END "
            "AS data_type FROM information_schema.columns WHERE table_schema = $1 "
            "ORDER BY table_name, ordinal_position",
            [self.schema],
        )
        out: dict[str, dict[str, str]] = {}
        for row in table.to_pylist():
            out.setdefault(row["table_name"], {})[row["column_name"]] = row["data_type"]
        return out

    # --- errors ----------------------------------------------------------------------------

    def _is_unique_violation(self, exc: Exception) -> bool:
        return _sqlstate(exc) == "23505"

    def _unavailable(self, exc: Exception, what: str) -> WarehouseUnavailableError:
        return WarehouseUnavailableError(
            f"{what} {self.uri}: {self._redact(exc)}. Check that the server runs and the URI "
            "(host, port, database, user) is right; retry"
        )

    def _translate(self, exc: Exception) -> WarehouseError:
        state = _sqlstate(exc) or ""
        text = self._redact(exc)
        if isinstance(exc, pa.ArrowException | OSError) and not isinstance(
            exc, adbc_driver_manager.Error
        ):
            return ParquetInputError(f"cannot read the Parquet batch, nothing was loaded: {text}")
        if state.startswith(_TRANSIENT_STATES) or (
            not state and any(w in text.lower() for w in _CONNECTION_WORDS)
        ):
            return self._unavailable(exc, "lost or refused connection to")
        if state.startswith(("22", "23")):
            return DataRejectedError(
                f"{self.uri} refused the batch, nothing was loaded: {text}. Fix the Parquet "
                "(re-run flatten) and load again"
            )
        if "parquet" in text.lower():
            return ParquetInputError(f"cannot read the Parquet batch, nothing was loaded: {text}")
        return WarehouseError(f"{self.uri}: {type(exc).__name__}: {text}")


def _sqlstate(exc: BaseException) -> str | None:
    state = getattr(exc, "sqlstate", None)
    return str(state) if state else None


def _with_null_columns(reader: pa.RecordBatchReader, full: pa.Schema) -> pa.RecordBatchReader:
    def batches() -> Any:
        for batch in reader:
            arrays = [
                batch.column(f.name)
                if f.name in batch.schema.names
                else pa.nulls(batch.num_rows, f.type)
                for f in full
            ]
            yield pa.RecordBatch.from_arrays(arrays, schema=full)

    return pa.RecordBatchReader.from_batches(full, batches())


__all__ = ["PostgresWarehouse"]
