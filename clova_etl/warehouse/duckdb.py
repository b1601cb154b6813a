"""DuckDB destination: an embedded file database that reads the Parquet files itself."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from clova_etl.warehouse.batch import TableFiles
from clova_etl.warehouse.ddl import qualified, sql_type
from clova_etl.warehouse.errors import (
    DataRejectedError,
    ParquetInputError,
    WarehouseBusyError,
    WarehouseError,
    WarehouseUnavailableError,
)
from clova_etl.warehouse.loader import Warehouse
from clova_etl.warehouse.uri import DEFAULT_SCHEMA, WarehouseURI, quote_ident, quote_literal

log = logging.getLogger(__name__)

_LOCKED = ("could not set lock", "conflicting lock")
_TRANSIENT = ("transaction conflict", "write-write conflict")

# Default of ``lock_wait_seconds``: a load waits this long for another holder of the file.
DEFAULT_LOCK_WAIT_SECONDS = 900.0
# Backoff between attempts to open a held file: doubling from the first, capped, full jitter.
_FIRST_WAIT, _MAX_WAIT = 0.05, 5.0


class DuckDBWarehouse(Warehouse):
    """A DuckDB file (or in-memory database) as the warehouse."""

    dialect = "duckdb"

    def __init__(
        self,
        uri: WarehouseURI,
        *,
        schema: str = DEFAULT_SCHEMA,
        lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(uri, schema=schema, **kwargs)
        if uri.target != ":memory:":
            from pathlib import Path

            Path(uri.target).parent.mkdir(parents=True, exist_ok=True)
        self._con = self._open(lock_wait_seconds)
        self._in_transaction = False
        self._arrow_seq = 0
        self._set_search_path()

    def _open(self, wait: float) -> duckdb.DuckDBPyConnection:
        """Open the file; while another process holds it (a writer, or any reader), wait.

        DuckDB locks the whole file: one read-write process, or any number of read-only ones.
        A second load or an analyst's open session is waited out with exponential backoff and
        full jitter (waiters do not retry in step), up to ``wait`` seconds.
        """
        deadline = time.monotonic() + wait
        delay = _FIRST_WAIT
        waited = False
        while True:
            try:
                return duckdb.connect(self.uri.target)
            except duckdb.Error as exc:
                text = self._redact(exc)
                if not any(s in text.lower() for s in _LOCKED):
                    raise self._translate(exc) from None
                left = deadline - time.monotonic()
                if left <= 0:
                    holder = " ".join(text.split())
                    raise WarehouseBusyError(
                        f"{self.uri} is still held by another process after waiting {wait:g}s "
                        f"(warehouse.lock_wait_seconds): {holder}. Close the other session "
                        "(analysts: see 'Querying while loads run' in the README) and re-run"
                    ) from None
                if not waited:
                    log.info("%s is held by another process; waiting up to %gs", self.uri, wait)
                    waited = True
                time.sleep(min(left, random.uniform(0, delay)))  # noqa: S311 (jitter)
                delay = min(delay * 2, _MAX_WAIT)

    def _set_search_path(self) -> None:
        # Queries typed by analysts find the tables and views without the schema prefix.
        # DuckDB accepts only an existing schema: before ensure_schema there may be none yet.
        path = quote_literal(f"{quote_ident(self.schema)},main")
        try:
            self._con.execute(f"SET search_path = {path}")
        except duckdb.CatalogException:
            log.debug("schema %r does not exist yet: search_path left alone", self.schema)

    def _after_ensure(self) -> None:
        self._set_search_path()

    def close(self) -> None:
        """Close the database file."""
        if self._in_transaction:
            self._safe_rollback()
        self._con.close()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        result = self._con.execute(sql, list(params) if params else None)
        head = sql.lstrip()[:6].upper()
        if head in {"INSERT", "DELETE", "UPDATE"}:
            row = result.fetchone()
            return int(row[0]) if row else 0
        return -1

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        # .sql() gives Arrow without the extra copy of a DB-API result.
        table: pa.Table = self._con.sql(
            sql, params=list(params) if params else None
        ).to_arrow_table()
        return table

    def _begin(self) -> None:
        self._con.execute("BEGIN TRANSACTION")
        self._in_transaction = True

    def _commit(self) -> None:
        self._con.execute("COMMIT")
        self._in_transaction = False

    def _rollback(self) -> None:
        if self._in_transaction:
            self._in_transaction = False
            self._con.execute("ROLLBACK")

    def _temp_table(self, name: str, data: pa.Table) -> str:
        view = self._register(data)
        try:
            self._con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(name)} AS FROM {view}")
        finally:
            self._con.unregister(view)
        return f"temp.main.{quote_ident(name)}"

    def _register(self, data: pa.Table) -> str:
        self._arrow_seq += 1
        name = f"clova_arrow_{self._arrow_seq}"
        self._con.register(name, data)
        return name

    def _read_parquet(self, files: TableFiles) -> str:
        union = "false" if files.uniform else "true"
        return f"read_parquet($1, union_by_name = {union})"

    def _insert_files(self, files: TableFiles, only: pa.Array | None = None) -> int:
        columns = ", ".join(quote_ident(c) for c in files.columns)
        keep = self._register(pa.table({"request_id": only})) if only is not None else None
        where = f" WHERE request_id IN (SELECT request_id FROM {keep})" if keep else ""
        try:
            return self._execute(
                f"INSERT INTO {qualified(self.schema, files.table.name)} ({columns}) "
                f"SELECT {columns} FROM {self._read_parquet(files)}{where}",
                [[str(f) for f in files.files]],
            )
        finally:
            if keep is not None:
                self._con.unregister(keep)

    def _stage_files(self, name: str, files: TableFiles) -> str:
        select = ", ".join(
            quote_ident(c.name)
            if c.name in files.columns
            else f"CAST(NULL AS {sql_type('duckdb', c.type).ddl}) AS {quote_ident(c.name)}"
            for c in files.table.columns
        )
        self._con.execute(
            f"CREATE OR REPLACE TEMP TABLE {quote_ident(name)} AS "
            f"SELECT {select} FROM {self._read_parquet(files)}",
            [[str(f) for f in files.files]],
        )
        return f"temp.main.{quote_ident(name)}"

    def _append(self, table: str, data: pa.Table) -> None:
        view = self._register(data)
        columns = ", ".join(quote_ident(c) for c in data.column_names)
        try:
            self._con.execute(
                f"INSERT INTO {qualified(self.schema, table)} ({columns}) "
                f"SELECT {columns} FROM {view}"
            )
        finally:
            self._con.unregister(view)

    def _column_types(self) -> dict[str, dict[str, str]]:
        rows = self._con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = $1 AND table_catalog = current_database() "
            "ORDER BY table_name, ordinal_position",
            [self.schema],
        ).fetchall()
        out: dict[str, dict[str, str]] = {}
        for table, column, type_ in rows:
            out.setdefault(str(table), {})[str(column)] = str(type_)
        return out

    def _translate(self, exc: Exception) -> WarehouseError:
        text = self._redact(exc)
        lowered = text.lower()
        if isinstance(exc, pa.ArrowException | OSError) and not isinstance(exc, duckdb.Error):
            return ParquetInputError(f"cannot read the Parquet batch: {text}")
        if any(s in lowered for s in _LOCKED):
            return WarehouseUnavailableError(
                f"{self.uri} is locked by another process ({text}); DuckDB allows one writer "
                "at a time: retry when the other load is done"
            )
        if any(s in lowered for s in _TRANSIENT):
            return WarehouseUnavailableError(f"{self.uri}: concurrent write ({text}); retry")
        if isinstance(exc, duckdb.ConstraintException | duckdb.ConversionException):
            return DataRejectedError(
                f"{self.uri} refused the batch, nothing was loaded: {text}. Fix the Parquet "
                "(re-run flatten) and load again"
            )
        if isinstance(exc, duckdb.IOException | duckdb.InvalidInputException) and (
            "parquet" in lowered or "magic bytes" in lowered
        ):
            return ParquetInputError(
                f"cannot read the Parquet batch, nothing was loaded: {text}. Re-run flatten"
            )
        if isinstance(exc, duckdb.IOException):
            return WarehouseUnavailableError(f"{self.uri}: I/O error ({text}); retry")
        return WarehouseError(f"{self.uri}: {type(exc).__name__}: {text}")


__all__ = ["DuckDBWarehouse"]
