"""PostgreSQL destination over psycopg: Arrow batches go in by binary COPY, in one transaction.

One psycopg connection (autocommit off) carries everything: DDL, the deletes, the bulk insert
(``COPY … FROM STDIN (FORMAT binary)`` fed by :mod:`.pgcopy`, which turns Parquet batches into
the wire format with Arrow and numpy), checks and audit rows, so a load commits or rolls back as
one transaction.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from clova_etl.warehouse.batch import TableFiles
from clova_etl.warehouse.ddl import qualified, sql_type
from clova_etl.warehouse.errors import (
    DataRejectedError,
    ParquetInputError,
    SchemaMismatchError,
    WarehouseError,
    WarehouseUnavailableError,
)
from clova_etl.warehouse.loader import Warehouse
from clova_etl.warehouse.pgcopy import copy_stream
from clova_etl.warehouse.uri import DEFAULT_SCHEMA, WarehouseURI, quote_ident
from clova_etl.warehouse.views import View

log = logging.getLogger(__name__)

_BATCH_ROWS = 64 * 1024
_CONNECT_TIMEOUT_S = 10
# SQLSTATE classes/codes after which a retry may succeed.
_TRANSIENT_STATES = ("08", "40001", "40P01", "53", "57P01", "57P02", "57P03", "55P03", "57014")


class PostgresWarehouse(Warehouse):
    """A PostgreSQL database as the warehouse."""

    dialect = "postgres"

    def __init__(self, uri: WarehouseURI, *, schema: str = DEFAULT_SCHEMA, **kwargs: Any) -> None:
        super().__init__(uri, schema=schema, **kwargs)
        options: dict[str, Any] = {}
        if "connect_timeout" not in uri.target:
            options["connect_timeout"] = _CONNECT_TIMEOUT_S
        try:
            self._con = psycopg.connect(uri.target, autocommit=False, **options)
        except psycopg.Error as exc:
            raise self._unavailable(exc, "cannot connect to") from None
        # Queries typed by analysts find the tables and views without the schema prefix.
        self._con.execute(f"SET search_path TO {quote_ident(self.schema)}, public")
        self._con.commit()

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back by the server)."""
        try:
            self._con.close()
        except psycopg.Error as exc:
            log.debug("closing %s: %s", self, self._redact(exc))

    # --- primitives ------------------------------------------------------------------------

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = self._con.execute(sql, tuple(params) if params else None)
        return int(cur.rowcount)

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        cur = self._con.execute(sql, tuple(params) if params else None)
        names = [d.name for d in cur.description or ()]
        rows = cur.fetchall()
        # from_arrays keeps duplicate column names (SELECT a.x, b.x) that a dict would merge.
        columns = [pa.array([row[i] for row in rows]) for i in range(len(names))]
        return pa.Table.from_arrays(columns, names=names)

    def _begin(self) -> None:
        # Autocommit is off: the first statement opens the transaction.
        pass

    def _commit(self) -> None:
        self._con.commit()

    def _rollback(self) -> None:
        self._con.rollback()

    def _lock(self) -> None:
        # One load (or DDL run) per schema at a time: two loads of overlapping request_ids
        # would otherwise both delete, then collide on the primary keys.
        self._execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"clova_etl:{self.schema}"])

    def _copy(self, target: str, columns: Sequence[str], batches: Iterable[pa.RecordBatch]) -> int:
        names = ", ".join(quote_ident(c) for c in columns)
        with self._con.cursor() as cur:
            with cur.copy(f"COPY {target} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                # Reading and encoding the next batches overlaps the server's work on this one.
                for chunk in prefetch(copy_stream(batches), depth=2):
                    copy.write(chunk)
            return int(cur.rowcount)  # from the server's "COPY n"

    def _create_temp(self, name: str, schema: pa.Schema) -> str:
        target = f"pg_temp.{quote_ident(name)}"
        columns = ", ".join(
            f"{quote_ident(f.name)} {sql_type('postgres', f.type).ddl}" for f in schema
        )
        self._execute(f"DROP TABLE IF EXISTS {target}")
        self._execute(f"CREATE TEMP TABLE {quote_ident(name)} ({columns})")
        return target

    def _temp_table(self, name: str, data: pa.Table) -> str:
        target = self._create_temp(name, data.schema)
        self._copy(target, data.column_names, data.to_batches())
        self._execute(f"ANALYZE {target}")
        return target

    def _stage_files(self, name: str, files: TableFiles) -> str:
        # Columns some files lack are read as nulls of the declared type.
        full = pa.schema([pa.field(c.name, c.type) for c in files.table.columns])
        target = self._create_temp(name, full)
        dataset = ds.dataset([str(f) for f in files.files], schema=full, format="parquet")
        self._copy(target, full.names, dataset.to_batches(batch_size=_BATCH_ROWS))
        return target

    def _insert_files(self, files: TableFiles, only: pa.Array | None = None) -> int:
        keep = None if only is None else pc.field("request_id").isin(only)
        batches = files.dataset().to_batches(batch_size=_BATCH_ROWS, filter=keep)
        return self._copy(qualified(self.schema, files.table.name), files.columns, batches)

    def _append(self, table: str, data: pa.Table) -> None:
        self._copy(qualified(self.schema, table), data.column_names, data.to_batches())

    def _after_insert(self, tables: Sequence[str]) -> None:
        # The checks run before COMMIT, when autovacuum has not yet seen the new rows: fresh
        # statistics keep the planner from treating a million-row table as empty. A small
        # sample is enough for that (and 10x cheaper than the default); autovacuum refines it.
        self._execute("SET LOCAL default_statistics_target = 10")
        for table in tables:
            self._execute(f"ANALYZE {qualified(self.schema, table)}")

    def _create_view(self, view: View) -> None:
        # CREATE OR REPLACE VIEW cannot drop or rename columns; a view whose shape changed
        # between versions is dropped and created again.
        self._execute("SAVEPOINT clova_view")
        try:
            self._execute(view.create_sql(self.schema))
        except psycopg.Error:
            self._execute("ROLLBACK TO SAVEPOINT clova_view")
            try:
                self._execute(f"DROP VIEW IF EXISTS {qualified(self.schema, view.name)}")
                self._execute(view.create_sql(self.schema))
            except psycopg.Error as exc:
                raise SchemaMismatchError(
                    f"cannot replace view {self.schema}.{view.name} ({self._redact(exc)}); "
                    "objects of yours depend on it: drop them, load, and create them again"
                ) from exc
        self._execute("RELEASE SAVEPOINT clova_view")
        self._execute(view.comment_sql(self.schema))

    def _column_types(self) -> dict[str, dict[str, str]]:
        rows = self._con.execute(
            "SELECT table_name, column_name, "
            "CASE WHEN data_type = 'ARRAY' THEN udt_name ELSE data_type END "
            "FROM information_schema.columns WHERE table_schema = %s "
            "ORDER BY table_name, ordinal_position",
            (self.schema,),
        ).fetchall()
        out: dict[str, dict[str, str]] = {}
        for table, column, type_ in rows:
            out.setdefault(str(table), {})[str(column)] = str(type_)
        return out

    def _primary_keys(self) -> dict[str, tuple[str, ...]]:
        rows = self._con.execute(
            "SELECT c.table_name, k.column_name FROM information_schema.table_constraints AS c "
            "JOIN information_schema.key_column_usage AS k "
            "  ON k.constraint_schema = c.constraint_schema "
            " AND k.constraint_name = c.constraint_name AND k.table_name = c.table_name "
            "WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = %s "
            "ORDER BY c.table_name, k.ordinal_position",
            (self.schema,),
        ).fetchall()
        keys: dict[str, tuple[str, ...]] = {}
        for table, column in rows:
            keys[str(table)] = (*keys.get(str(table), ()), str(column))
        return keys

    # --- errors ----------------------------------------------------------------------------

    def _is_unique_violation(self, exc: Exception) -> bool:
        return isinstance(exc, psycopg.Error) and exc.sqlstate == "23505"

    def _unavailable(self, exc: Exception, what: str) -> WarehouseUnavailableError:
        return WarehouseUnavailableError(
            f"{what} {self.uri}: {self._redact(exc).strip()}. Check that the server runs and the "
            "URI (host, port, database, user) is right; retry"
        )

    def _translate(self, exc: Exception) -> WarehouseError:
        text = self._redact(exc).strip()
        if isinstance(exc, pa.ArrowException | OSError):
            return ParquetInputError(f"cannot read the Parquet batch, nothing was loaded: {text}")
        state = exc.sqlstate if isinstance(exc, psycopg.Error) else None
        broken = isinstance(exc, psycopg.OperationalError) and (
            state is None or self._con.closed or self._con.broken
        )
        if broken or (state or "").startswith(_TRANSIENT_STATES):
            return self._unavailable(exc, "lost or refused connection to")
        if (state or "").startswith(("22", "23")):
            return DataRejectedError(
                f"{self.uri} refused the batch, nothing was loaded: {text}. Fix the Parquet "
                "(re-run flatten) and load again"
            )
        return WarehouseError(f"{self.uri}: {type(exc).__name__}: {text}")


T = TypeVar("T")


def prefetch(items: Iterable[T], depth: int) -> Iterator[T]:
    """``items``, produced up to ``depth`` ahead in a thread (errors re-raised here)."""
    ready: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put((False, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            ready.put((False, exc))

    worker = threading.Thread(target=produce, name="clova-etl-copy-encoder", daemon=True)
    worker.start()
    try:
        while True:
            more, item = ready.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()  # the consumer failed or stopped early: let the producer finish
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.1)
        worker.join()


__all__ = ["PostgresWarehouse"]
