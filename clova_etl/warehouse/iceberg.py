"""Apache Iceberg destination (pyiceberg): tables any engine reads, replaced by request_id.

The SQL of a load (staging, the etl_objects merge, the checks, the analyst views) runs in an
in-memory DuckDB that mirrors the warehouse's tables, exactly as for a DuckDB file: nothing is
implemented twice. What differs is where rows end up::

    load: mirror ← the batch's rows only (OCR tables) and every etl_objects row
          ─▶ the shared load steps and checks run on the mirror (scope: the batch)
          ─▶ commit, table by table: write the data files, then ONE overwrite snapshot that
             drops the rows of the batch's request_ids (copy-on-write of the files holding
             them) and adds the new files; a commit conflict re-plans that table and retries
    query / check: mirror ← full scans of the tables the SQL names (cached per snapshot)

Each table's change is atomic (a reader sees the previous snapshot or the new one) but Iceberg
has no transaction over several tables: every table's files are written before the first
commit, then tables commit parents first and the audit tables (etl_loads, etl_check_results)
last, so a load killed between two commits leaves some tables at their new snapshot; it has no
etl_loads row and re-running it (idempotent) completes it.
"""

from __future__ import annotations

import functools
import itertools
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from clova_etl import schema as declared
from clova_etl.warehouse.batch import ParquetBatch, TableFiles
from clova_etl.warehouse.checks import CHECKS
from clova_etl.warehouse.ddl import qualified, warehouse_tables
from clova_etl.warehouse.duckdb import DuckDBWarehouse
from clova_etl.warehouse.errors import (
    DataRejectedError,
    SchemaMismatchError,
    WarehouseConfigError,
    WarehouseError,
    WarehouseUnavailableError,
)
from clova_etl.warehouse.iceberg_uri import catalog_properties
from clova_etl.warehouse.loader import SCOPE_TABLE, LoadResult, ProgressCallback
from clova_etl.warehouse.uri import DEFAULT_SCHEMA, WarehouseURI, quote_ident
from clova_etl.warehouse.views import VIEWS

if TYPE_CHECKING:
    from clova_etl.warehouse.loader import _LoadState

log = logging.getLogger(__name__)

PARTITIONS: dict[str, tuple[str, str]] = {
    declared.OCR_REQUESTS.name: ("requested_at", "requested_day"),
    declared.ETL_LOADS.name: ("started_at", "started_day"),
    declared.ETL_CHECK_RESULTS.name: ("checked_at", "checked_day"),
}
"""Tables partitioned by day: table -> (timestamp column, partition field name). The child OCR
tables carry no date column (their schema is shared with DuckDB and PostgreSQL) and stay
unpartitioned; see the README's Iceberg section."""

TABLE_PROPERTIES = {
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
    # Our own loop re-plans a conflicting replace; pyiceberg's rebase is tried first.
    "commit.retry.num-retries": "4",
}
COMMIT_ATTEMPTS = 8
"""Re-plans of one table's replace after a conflicting concurrent commit."""
SNAPSHOT_LOAD_ID = "clova-etl.load-id"
"""Snapshot summary property naming the load that made the snapshot."""


@dataclass(frozen=True)
class _Replace:
    """One table's change in a commit: drop rows whose ``column`` is in ``keys``, add ``data``."""

    column: str
    keys: pa.Array
    data: Callable[[], pa.Table]


class IcebergWarehouse(DuckDBWarehouse):
    """Iceberg tables in a catalog (SQL on SQLite/PostgreSQL, REST, Glue, Hive)."""

    def __init__(self, uri: WarehouseURI, *, schema: str = DEFAULT_SCHEMA, **kwargs: Any) -> None:
        memory = WarehouseURI(dialect="duckdb", target=":memory:", redacted="duckdb:///:memory:")
        super().__init__(memory, schema=schema, **kwargs)
        self.uri = uri
        try:
            from pyiceberg.catalog import load_catalog

            self._catalog = load_catalog("clova", **catalog_properties(uri.target))
        except Exception as exc:
            self._con.close()
            raise self._translate(exc) from None
        self._tables: dict[str, Any] = {}
        self._mirrored: dict[str, int | None] = {}
        self._replaces: dict[str, _Replace] = {}
        self._appends: dict[str, list[pa.Table]] = {}
        self._progress: ProgressCallback | None = None
        self._progress_rows: dict[str, int] = {}
        self._load_id: str | None = None

    def close(self) -> None:
        """Close the mirror and the catalog's connections."""
        try:
            super().close()
        finally:
            close_catalog(self._catalog)

    # --- schema ----------------------------------------------------------------------------

    def _after_ensure(self) -> None:
        """The mirror exists (the shared ensure_schema made it): now the Iceberg tables."""
        super()._after_ensure()
        # The mirror shows what the Iceberg tables hold, and a column added to an older table
        # is optional there: nulls are refused when files are written (pyarrow refuses nulls
        # in a required column), not when rows are mirrored.
        for table in warehouse_tables().values():
            for column in table.columns:
                if not column.nullable or column.name in table.key:
                    self._con.execute(
                        f"ALTER TABLE {qualified(self.schema, table.name)} "
                        f"ALTER COLUMN {quote_ident(column.name)} DROP NOT NULL"
                    )
        try:
            self._catalog.create_namespace_if_not_exists(self.schema)
            problems: list[str] = []
            for table in warehouse_tables().values():
                self._tables[table.name] = self._ensure_table(table, problems)
        except Exception as exc:
            self._ensured = False
            raise self._translate(exc) from exc
        if problems:
            self._ensured = False
            raise SchemaMismatchError(
                f"Iceberg namespace {self.schema!r} at {self.uri} has columns of another type "
                f"than clova-etl declares: {'; '.join(problems)}. Load into a new namespace"
            )

    def _ensure_table(self, table: declared.Table, problems: list[str]) -> Any:
        from pyiceberg.exceptions import NoSuchTableError, TableAlreadyExistsError

        ident = (self.schema, table.name)
        try:
            found = self._catalog.load_table(ident)
        except NoSuchTableError:
            try:
                return self._create_table(table)
            except TableAlreadyExistsError:  # another process created it meanwhile
                found = self._catalog.load_table(ident)
        have = {f.name: f for f in found.schema().as_arrow()}
        for column in table.columns:
            got = have.get(column.name)
            if got is not None and not _same_type(got.type, column.type):
                problems.append(f"{table.name}.{column.name} is {got.type}, declared {column.type}")
        missing = [c for c in table.columns if c.name not in have]
        if missing and not problems:
            # Rows already written have no value for a new column: it is added optional (as
            # ALTER TABLE … ADD COLUMN does elsewhere); the checks and the flattener keep it set.
            log.info("adding columns to Iceberg table %s.%s", self.schema, table.name)
            with found.update_schema() as update:
                for column in missing:
                    update.add_column(column.name, _iceberg_type(column), doc=column.description)
        return found

    def _create_table(self, table: declared.Table) -> Any:
        from pyiceberg.transforms import DayTransform

        props = TABLE_PROPERTIES | {"comment": table.description}
        # Column descriptions become Iceberg column docs (what Trino shows as comments).
        schema = pa.schema([c.field.with_metadata({"doc": c.description}) for c in table.columns])
        txn = self._catalog.create_table_transaction(
            (self.schema, table.name), schema=schema, properties=props
        )
        if table.name in PARTITIONS:
            source, name = PARTITIONS[table.name]
            with txn.update_spec() as spec:
                spec.add_field(source, DayTransform(), name)
        txn.commit_transaction()
        return self._catalog.load_table((self.schema, table.name))

    # --- the mirror ------------------------------------------------------------------------

    def _table(self, name: str) -> Any:
        table = self._tables[name]
        table.refresh()
        return table

    def _mirror(self, names: Iterable[str]) -> None:
        """Make the mirror's ``names`` tables hold the Iceberg tables' current rows."""
        for name in names:
            table = self._table(name)
            snapshot = table.metadata.current_snapshot_id
            if name in self._mirrored and self._mirrored[name] == snapshot:
                continue
            data = table.scan().to_arrow() if snapshot is not None else None
            self._replace_mirror(name, data)
            self._mirrored[name] = snapshot

    def _replace_mirror(self, name: str, data: pa.Table | None) -> None:
        target = qualified(self.schema, name)
        self._con.execute(f"DELETE FROM {target}")
        if data is not None and data.num_rows:
            view = self._register(data)
            columns = ", ".join(quote_ident(c) for c in data.column_names)
            try:
                self._con.execute(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {view}")
            finally:
                self._con.unregister(view)

    def _named_tables(self, sql: str) -> list[str]:
        """The warehouse tables ``sql`` may read, directly or through an analyst view."""
        text = sql.lower()
        named = {t for t in warehouse_tables() if t in text}
        for view in VIEWS:
            if view.name in text:
                named |= {t for t in warehouse_tables() if t in view.query}
        return [t for t in warehouse_tables() if t in named]

    # --- public API ------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run a read-only query in DuckDB over the tables' current snapshots."""
        self.ensure_schema()
        try:
            self._mirror(self._named_tables(sql))
        except WarehouseError:
            raise
        except Exception as exc:
            raise self._translate(exc) from exc
        return super().query(sql, params)

    def run_checks(
        self, *, parquet_dir: str | Path | None = None, record: bool = True
    ) -> list[Any]:
        """Run every check over the tables' current snapshots (or a batch's request_ids)."""
        self.ensure_schema()
        try:
            self._mirror(warehouse_tables())
        except Exception as exc:
            raise self._translate(exc) from exc
        return super().run_checks(parquet_dir=parquet_dir, record=record)

    def load(
        self,
        parquet_dir: str | Path,
        *,
        run_id: str | None = None,
        on_progress: ProgressCallback | None = None,
        skip_unchanged: bool = True,
    ) -> LoadResult:
        """Load a Parquet batch: one overwrite snapshot per table, then checks and audit rows.

        ``on_progress`` is called when a table's new data files are written (before any
        commit), with the rows of the batch for that table.
        """
        self._progress = on_progress
        try:
            return super().load(parquet_dir, run_id=run_id, skip_unchanged=skip_unchanged)
        finally:
            self._progress = None
            self._progress_rows = {}
            self._load_id = None

    def snapshot_ids(self) -> dict[str, int | None]:
        """Each table's current snapshot id (None for a table never written)."""
        self.ensure_schema()
        return {n: self._table(n).metadata.current_snapshot_id for n in warehouse_tables()}

    # --- the load --------------------------------------------------------------------------

    def _load_batch(
        self,
        state: _LoadState,
        batch: ParquetBatch,
        on_progress: ProgressCallback | None,
        skip_unchanged: bool = True,
    ) -> None:
        self._load_id = state.load_id
        for name in declared.TABLES:
            if name != declared.OCR_REQUESTS.name:
                self._replace_mirror(name, None)
                self._mirrored.pop(name, None)
        # ocr_requests (one row a request) and etl_objects are mirrored whole: the shared load
        # finds unchanged requests by content_hash there and merges objects; both change below.
        self._mirror([declared.OCR_REQUESTS.name, declared.ETL_OBJECTS.name])
        self._mirrored.pop(declared.OCR_REQUESTS.name, None)
        self._mirrored.pop(declared.ETL_OBJECTS.name, None)
        super()._load_batch(state, batch, None, skip_unchanged)
        self._progress_rows = dict(state.rows)
        ids = self._fetch(f"SELECT request_id FROM temp.main.{quote_ident(SCOPE_TABLE)}")
        ids = ids.column(0).combine_chunks().cast(pa.string())
        if len(ids):
            for name, table in declared.TABLES.items():
                files = batch.tables.get(name)
                # The checked rows are the files' rows: read them again straight from the files
                # (faster than exporting the mirror) when they are written.
                only = None if len(ids) == len(batch.request_ids) else ids
                read = (
                    functools.partial(_read_files, files, only)
                    if files is not None
                    else functools.partial(_empty, table)
                )
                self._replaces[name] = _Replace("request_id", ids, read)
        if batch.objects is not None:
            uris = pc.unique(batch.objects.dataset().to_table(columns=["source_uri"]).column(0))
            self._replaces[declared.ETL_OBJECTS.name] = _Replace(
                "source_uri", uris, self._staged(declared.ETL_OBJECTS.name, uris)
            )

    def _insert_files(self, files: TableFiles, only: pa.Array | None = None) -> int:
        # The mirror holds a batch's rows for the checks only: with every check skipped there
        # is nothing to stage (the Iceberg files are written from the batch files).
        if only is None and {c.name for c in CHECKS} <= set(self.check_config.skip):
            return files.rows
        return super()._insert_files(files, only)

    def _staged(self, name: str, uris: pa.Array) -> Callable[[], pa.Table]:
        def read() -> pa.Table:
            sql = f"SELECT * FROM {qualified(self.schema, name)}"
            view = self._register(pa.table({"source_uri": uris}))
            try:
                data = self._fetch(f"{sql} WHERE source_uri IN (SELECT source_uri FROM {view})")
            finally:
                self._con.unregister(view)
            return _conform(data, warehouse_tables()[name])

        return read

    def _append(self, table: str, data: pa.Table) -> None:
        self._appends.setdefault(table, []).append(_conform(data, warehouse_tables()[table]))

    def _begin(self) -> None:
        self._replaces.clear()
        self._appends.clear()
        super()._begin()

    def _rollback(self) -> None:
        self._replaces.clear()
        self._appends.clear()
        super()._rollback()

    def _commit(self) -> None:
        try:
            self._commit_iceberg()
        finally:
            self._replaces.clear()
            self._appends.clear()
        super()._commit()

    def _commit_iceberg(self) -> None:
        """Write every table's files, then commit table by table (parents first, audit last)."""
        if not self._replaces and not self._appends:
            return
        properties = {SNAPSHOT_LOAD_ID: self._load_id} if self._load_id else {}
        prepared: list[tuple[str, Callable[[], Any], Any]] = []
        for name in warehouse_tables():
            if name not in self._replaces and name not in self._appends:
                continue
            prepare: Callable[[], Any] = functools.partial(self._prepare, name, properties)
            txn = prepare()
            if self._progress is not None and name in self._progress_rows:
                self._progress(name, self._progress_rows[name])
            prepared.append((name, prepare, txn))
        for name, prepare, txn in prepared:
            _commit_with_retries(name, prepare, txn)
            self._mirrored.pop(name, None)

    def _prepare(self, name: str, properties: dict[str, str]) -> Any:
        """One table's transaction, its files written (see :func:`_prepare_replace`)."""
        replace = self._replaces.get(name)
        data = [replace.data()] if replace else []
        data += self._appends.get(name, [])
        combined = pa.concat_tables(data) if data else None
        return _prepare_replace(self._table(name), replace, combined, properties)

    # --- errors ----------------------------------------------------------------------------

    def _translate(self, exc: Exception) -> WarehouseError:
        if isinstance(exc, WarehouseError):
            return exc
        text = self._redact(exc)
        module = type(exc).__module__
        name = type(exc).__name__
        if not module.startswith(("pyiceberg", "sqlalchemy", "botocore", "s3fs", "requests")):
            return super()._translate(exc)
        if name in {"CommitFailedException", "ValidationException", "CommitStateUnknownException"}:
            return WarehouseUnavailableError(
                f"{self.uri}: concurrent commits kept conflicting ({text}); retry the load "
                "(it is idempotent)"
            )
        if name in {"NotInstalledError", "NoSuchNamespaceError", "ForbiddenError"}:
            return WarehouseConfigError(f"{self.uri}: {name}: {text}")
        if name in {"OAuthError", "UnauthorizedError"}:
            return WarehouseConfigError(f"{self.uri}: the catalog refused the credentials ({text})")
        return WarehouseUnavailableError(f"{self.uri}: {name}: {text}; retry")


def close_catalog(catalog: Any) -> None:
    """Release a catalog's pooled connections (a SQL catalog's SQLAlchemy engine)."""
    engine = getattr(catalog, "engine", None)
    if engine is not None:
        engine.dispose()


def _prepare_replace(
    table: Any, replace: _Replace | None, data: pa.Table | None, properties: dict[str, str]
) -> Any:
    """A transaction holding ONE overwrite snapshot: the files that hold ``replace.keys`` are
    rewritten without them (or dropped), ``data`` is added. Files are written, nothing is
    committed."""
    from pyiceberg.expressions import AlwaysTrue, In
    from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files

    txn = table.transaction()
    metadata = table.metadata
    update = txn.update_snapshot(snapshot_properties=properties)
    # An append-only change (audit rows) needs no conflict validation: pyiceberg rebases it.
    producer = update.overwrite() if replace is not None else update.fast_append()
    with producer as snapshot:
        uuid = snapshot.commit_uuid
        # Data file names are <counter>-<uuid>: one counter for every file of the snapshot.
        counter = itertools.count(0)
        if replace is not None and len(replace.keys):
            predicate = In(term=replace.column, literals=set(replace.keys.to_pylist()))
            # Conflict detection: a concurrent commit adding files that may hold these keys
            # fails validation, and the caller re-plans.
            snapshot.delete_by_predicate(predicate)
            keys = replace.keys
            for task in table.scan(row_filter=predicate).plan_files():
                if task.delete_files:
                    raise WarehouseError(
                        f"{table.name()} has delete files (merge-on-read, written by another "
                        "engine); compact it with that engine before loading with clova-etl"
                    )
                scan = ArrowScan(metadata, table.io, metadata.schema(), AlwaysTrue())
                rows = scan.to_table([task])
                hit = pc.is_in(rows.column(replace.column), value_set=keys)
                if not pc.any(hit).as_py():
                    continue
                kept = rows.filter(pc.invert(hit))
                snapshot.delete_data_file(task.file)
                if kept.num_rows:
                    for f in _dataframe_to_data_files(metadata, kept, table.io, uuid, counter):
                        snapshot.append_data_file(f)
        if data is not None and data.num_rows:
            for f in _dataframe_to_data_files(metadata, data, table.io, uuid, counter):
                snapshot.append_data_file(f)
    return txn


def _commit_with_retries(name: str, prepare: Callable[[], Any], txn: Any) -> None:
    """Commit; on a conflict pyiceberg could not rebase, re-plan on the new snapshot and retry."""
    from pyiceberg.exceptions import CommitFailedException, ValidationException

    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        try:
            txn.commit_transaction()
            return
        except (CommitFailedException, ValidationException) as exc:
            if attempt == COMMIT_ATTEMPTS:
                raise
            wait = min(0.05 * 2**attempt, 2.0) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter
            log.info("%s: concurrent commit (%s); re-planning in %.2fs", name, exc, wait)
            time.sleep(wait)
            txn = prepare()


def _iceberg_type(column: declared.Column) -> Any:
    """The Iceberg type of a declared column."""
    from pyiceberg.io.pyarrow import pyarrow_to_schema

    field = pa.field(column.name, column.type, metadata={"PARQUET:field_id": "1"})
    return pyarrow_to_schema(pa.schema([field])).find_field(column.name).field_type


def _read_files(files: TableFiles, only: pa.Array | None = None) -> pa.Table:
    data = files.dataset().to_table()
    if only is not None:
        data = data.filter(pc.is_in(data.column("request_id"), value_set=only))
    return _conform(data, files.table)


def _empty(table: declared.Table) -> pa.Table:
    return table.arrow_schema.empty_table()


def _conform(data: pa.Table, table: declared.Table) -> pa.Table:
    """``data`` with exactly the declared columns and types (absent columns as nulls); a null
    in a NOT NULL column is refused as the databases refuse it."""
    required = [c.name for c in table.columns if not c.nullable or c.name in table.key]
    nulls = [
        name for name in required if name not in data.column_names or data.column(name).null_count
    ]
    if nulls and data.num_rows:
        raise DataRejectedError(
            f"refused the batch, nothing was loaded: NULL in NOT NULL column(s) "
            f"{', '.join(f'{table.name}.{n}' for n in nulls)}. Fix the Parquet (re-run "
            "flatten) and load again"
        )
    columns = []
    for column in table.columns:
        if column.name in data.column_names:
            columns.append(data.column(column.name).cast(column.type))
        else:
            columns.append(pa.nulls(data.num_rows, column.type))
    return pa.Table.from_arrays(columns, schema=table.arrow_schema)


def _same_type(got: pa.DataType, want: pa.DataType) -> bool:
    def norm(t: pa.DataType) -> pa.DataType:
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return pa.string()
        if pa.types.is_large_list(t) or pa.types.is_list(t):
            return pa.list_(norm(t.value_type))
        if pa.types.is_timestamp(t) and t.tz is not None:
            return pa.timestamp("us", tz="UTC")
        return t

    return bool(norm(got).equals(norm(want)))


__all__ = ["PARTITIONS", "SNAPSHOT_LOAD_ID", "IcebergWarehouse", "close_catalog"]
