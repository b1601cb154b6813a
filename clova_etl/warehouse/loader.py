"""The load itself, the same for every destination: replace by request_id in one transaction.

A load, step by step (one transaction; any failure rolls all of it back)::

    scan DIR (footers + request_id column) ─▶ ensure schema (create, add missing columns, views)
    BEGIN ─▶ lock ─▶ unchanged requests: ocr_requests.content_hash equal in the warehouse
          ─▶ temp tables: the other (changed) request_ids, their Parquet row counts
          ─▶ DELETE every table's rows of those request_ids
          ─▶ bulk insert each table's rows of those request_ids (DuckDB: read_parquet;
             PostgreSQL: Arrow → binary COPY); nothing at all when every request is unchanged
          ─▶ etl_objects: batch rows replace rows of the same key unless the stored row is newer
          ─▶ checks over the batch (see checks.py) ─▶ a blocking failure: ROLLBACK, raise
          ─▶ audit rows (etl_loads, etl_check_results) ─▶ COMMIT

A failed load is recorded afterwards in its own transaction (etl_loads.status = 'failed', with
the check results that failed it), so the reason is queryable while the data is untouched.
Destinations implement the few primitives marked abstract below.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, NoReturn, Self

import pyarrow as pa
import pyarrow.compute as pc

from clova_etl import __version__
from clova_etl import schema as declared
from clova_etl.warehouse.batch import ParquetBatch, TableFiles, scan_batch
from clova_etl.warehouse.checks import (
    CHECKS,
    CheckConfig,
    CheckContext,
    CheckResult,
    effective_severity,
    evaluation_sql,
    get_check,
    status_for,
)
from clova_etl.warehouse.ddl import (
    add_column_sql,
    comment_sql,
    create_table_sql,
    qualified,
    sql_type,
    warehouse_tables,
)
from clova_etl.warehouse.errors import (
    ChecksFailedError,
    SchemaMismatchError,
    WarehouseError,
)
from clova_etl.warehouse.uri import (
    DEFAULT_SCHEMA,
    Dialect,
    WarehouseURI,
    quote_ident,
    validate_identifier,
)
from clova_etl.warehouse.views import VIEWS, View

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int], None]
"""Called after each table of a load with (table name, rows inserted)."""

SCOPE_TABLE = "clova_scope"
HASHES_TABLE = "clova_hashes"
EXPECTED_TABLE = "clova_expected"
OBJECTS_STAGE = "clova_objects"


@dataclass(frozen=True)
class LoadResult:
    """What a committed load did."""

    load_id: str
    run_id: str | None
    parquet_dir: str
    request_count: int
    rows: dict[str, int]
    checks: list[CheckResult]
    started_at: datetime
    finished_at: datetime
    unchanged_requests: int = 0
    """Requests skipped: the warehouse held their rows with the same content hash."""

    @property
    def total_rows(self) -> int:
        """Rows inserted over all tables."""
        return sum(self.rows.values())

    @property
    def warnings(self) -> list[CheckResult]:
        """Warning checks that found offending rows."""
        return [r for r in self.checks if r.status == "warn"]

    @property
    def duration_s(self) -> float:
        """Wall time of the load, checks included."""
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for logs, XCom and ``clova-etl load --json``)."""
        return {
            "load_id": self.load_id,
            "run_id": self.run_id,
            "parquet_dir": self.parquet_dir,
            "request_count": self.request_count,
            "unchanged_requests": self.unchanged_requests,
            "rows": dict(self.rows),
            "total_rows": self.total_rows,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_s": round(self.duration_s, 3),
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass
class _LoadState:
    load_id: str
    run_id: str | None
    parquet_dir: str
    started_at: datetime
    batch: ParquetBatch | None = None
    rows: dict[str, int] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    unchanged: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


class Warehouse(ABC):
    """A connection to one warehouse schema: ensure DDL, load Parquet batches, run checks."""

    dialect: ClassVar[Dialect]

    def __init__(
        self,
        uri: WarehouseURI,
        *,
        schema: str = DEFAULT_SCHEMA,
        check_config: CheckConfig | None = None,
    ) -> None:
        self.uri = uri
        self.schema = validate_identifier(schema, "schema")
        self.check_config = check_config or CheckConfig()
        self._ensured = False
        self._enforced_keys: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri.redacted!r}, schema={self.schema!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- primitives each destination implements -------------------------------------------

    @abstractmethod
    def close(self) -> None:
        """Close the connection (an open transaction is rolled back)."""

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed (-1 when not applicable)."""

    @abstractmethod
    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run one query; its rows as Arrow."""

    @abstractmethod
    def _begin(self) -> None:
        """Start a transaction."""

    @abstractmethod
    def _commit(self) -> None:
        """Commit the transaction."""

    @abstractmethod
    def _rollback(self) -> None:
        """Roll the transaction back."""

    @abstractmethod
    def _temp_table(self, name: str, data: pa.Table) -> str:
        """Create (or replace) a temporary table holding ``data``; its qualified name."""

    @abstractmethod
    def _stage_files(self, name: str, files: TableFiles) -> str:
        """A temporary table of the files' rows with every declared column; its name."""

    @abstractmethod
    def _insert_files(self, files: TableFiles, only: pa.Array | None = None) -> int:
        """Bulk-insert the files into their table by the engine's fast path; rows inserted.

        ``only``: insert just the rows of these request_ids (None: every row).
        """

    @abstractmethod
    def _append(self, table: str, data: pa.Table) -> None:
        """Insert a few Arrow rows (audit) into a warehouse table."""

    @abstractmethod
    def _column_types(self) -> dict[str, dict[str, str]]:
        """The schema's tables: table -> column -> information_schema type, in column order."""

    @abstractmethod
    def _translate(self, exc: Exception) -> WarehouseError:
        """The warehouse error that ``exc`` (from the driver or pyarrow) means."""

    def _primary_keys(self) -> dict[str, tuple[str, ...]]:
        """Tables of the schema that have a PRIMARY KEY, with its columns in order."""
        return {}

    def _is_unique_violation(self, exc: Exception) -> bool:
        """Whether ``exc`` is the database refusing a duplicate key."""
        return False

    def _lock(self) -> None:  # noqa: B027 - optional hook
        """Serialize loads and DDL on this schema (inside the transaction)."""

    def _after_insert(self, tables: Sequence[str]) -> None:  # noqa: B027 - optional hook
        """Hook after the bulk inserts (PostgreSQL refreshes planner statistics)."""

    def _after_ensure(self) -> None:  # noqa: B027 - optional hook
        """Hook after the schema exists (DuckDB puts it on the search path)."""

    def _create_view(self, view: View) -> None:
        self._execute(view.create_sql(self.schema))
        self._execute(view.comment_sql(self.schema))

    # --- public API ------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Create the schema, tables and views; add columns an older warehouse lacks."""
        if self._ensured:
            return
        try:
            self._begin()
            self._lock()
            self._execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(self.schema)}")
            existing = self._column_types()
            problems: list[str] = []
            for table in warehouse_tables().values():
                have = existing.get(table.name)
                if not have:
                    self._execute(create_table_sql(self.dialect, self.schema, table))
                    for statement in comment_sql(self.schema, table):
                        self._execute(statement)
                    continue
                for column in table.columns:
                    want = sql_type(self.dialect, column.type).info
                    got = have.get(column.name)
                    if got is None:
                        log.info("adding column %s.%s to %s", table.name, column.name, self)
                        self._execute(add_column_sql(self.dialect, self.schema, table, column))
                        for statement in comment_sql(self.schema, table, [column]):
                            self._execute(statement)
                    elif got.lower() != want.lower():
                        problems.append(f"{table.name}.{column.name} is {got}, declared {want}")
            if problems:
                raise SchemaMismatchError(
                    f"warehouse schema {self.schema!r} at {self.uri} has columns of another type "
                    f"than clova-etl declares: {'; '.join(problems)}. Migrate them (ALTER TABLE "
                    "… ALTER COLUMN … TYPE …) or load into a new schema"
                )
            for view in VIEWS:
                self._create_view(view)
            keys = self._primary_keys()
            self._enforced_keys = frozenset(
                t.name for t in warehouse_tables().values() if keys.get(t.name) == t.key
            )
            self._commit()
        except BaseException as exc:
            _reraise(self._abort(exc), exc)
        self._ensured = True
        self._after_ensure()

    def load(
        self,
        parquet_dir: str | Path,
        *,
        run_id: str | None = None,
        on_progress: ProgressCallback | None = None,
        skip_unchanged: bool = True,
    ) -> LoadResult:
        """Load a Parquet batch: replace its request_ids' rows in one transaction, then check.

        Requests whose ``content_hash`` equals the one stored in the warehouse are left as
        they are (same answer, same parser: same rows); ``skip_unchanged=False`` replaces them
        too.
        """
        state = _LoadState(str(uuid.uuid4()), run_id, str(parquet_dir), _now())
        self.ensure_schema()
        try:
            # Inside the try: a batch refused before the transaction is recorded as failed too.
            batch = state.batch = scan_batch(parquet_dir)
            self._begin()
            self._lock()
            self._load_batch(state, batch, on_progress, skip_unchanged)
            blocking = [r for r in state.checks if r.status == "fail"]
            if blocking:
                raise ChecksFailedError(
                    self._checks_message(state, blocking), state.checks, state.load_id
                )
            finished = _now()
            self._record_load(state, "succeeded", None, finished)
            self._commit()
        except BaseException as exc:
            error = self._abort(exc)
            if isinstance(exc, Exception) and isinstance(error, WarehouseError):
                self._record_failure(state, error)
            _reraise(error, exc)
        log.info(
            "load %s: %d rows of %d request(s) (%d unchanged, skipped) from %s into %s",
            state.load_id,
            sum(state.rows.values()),
            len(batch.request_ids),
            state.unchanged,
            parquet_dir,
            self,
        )
        return LoadResult(
            state.load_id,
            run_id,
            state.parquet_dir,
            len(batch.request_ids),
            dict(state.rows),
            list(state.checks),
            state.started_at,
            finished,
            state.unchanged,
        )

    def run_checks(
        self, *, parquet_dir: str | Path | None = None, record: bool = True
    ) -> list[CheckResult]:
        """Run every check over the warehouse (or over a batch's request_ids) and record them."""
        batch = scan_batch(parquet_dir) if parquet_dir is not None else None
        self.ensure_schema()
        check_run_id = str(uuid.uuid4())
        try:
            self._begin()
            ctx = self._context(batch)
            results = self._evaluate_checks(ctx)
            if record:
                self._record_checks(check_run_id, None, results)
            self._commit()
        except BaseException as exc:
            _reraise(self._abort(exc), exc)
        return results

    def query(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run a read-only query (this schema first on the search path); its rows as Arrow.

        ``params`` use the driver's placeholders (DuckDB ``$1``, PostgreSQL ``%s``); anything
        the query changes is rolled back.
        """
        try:
            self._begin()
            result = self._fetch(sql, params)
            self._rollback()
        except BaseException as exc:
            _reraise(self._abort(exc), exc)
        return result

    def row_counts(self) -> dict[str, int]:
        """Rows per warehouse table."""
        self.ensure_schema()
        sql = "\nUNION ALL\n".join(
            f"SELECT '{name}' AS table_name, count(*) AS n FROM {qualified(self.schema, name)}"
            for name in warehouse_tables()
        )
        table = self.query(sql)
        return {str(r["table_name"]): int(r["n"]) for r in table.to_pylist()}

    # --- the load's steps ------------------------------------------------------------------

    def _context(
        self, batch: ParquetBatch | None, request_ids: pa.Array | None = None
    ) -> CheckContext:
        if batch is None:
            return CheckContext(
                self.dialect,
                self.schema,
                config=self.check_config,
                enforced_keys=self._enforced_keys,
            )
        ids = batch.request_ids if request_ids is None else request_ids
        scope = self._temp_table(SCOPE_TABLE, pa.table({"request_id": ids}))
        expected = batch.expected_rows_of(ids)
        counts = pa.table(
            {
                "table_name": pa.array(list(expected), pa.string()),
                "row_count": pa.array(list(expected.values()), pa.int64()),
            }
        )
        return CheckContext(
            self.dialect,
            self.schema,
            scope_table=scope,
            expected_table=self._temp_table(EXPECTED_TABLE, counts),
            config=self.check_config,
            enforced_keys=self._enforced_keys,
        )

    def _unchanged(self, batch: ParquetBatch) -> pa.Array:
        """Request_ids of the batch whose rows the warehouse holds with the same content hash."""
        hashes = batch.content_hashes()
        if hashes is None or hashes.num_rows == 0:
            return pa.array([], pa.string())
        staged = self._temp_table(HASHES_TABLE, hashes)
        same = self._fetch(
            f"SELECT b.request_id FROM {staged} AS b "
            f"JOIN {qualified(self.schema, declared.OCR_REQUESTS.name)} AS r "
            "ON r.request_id = b.request_id AND r.content_hash = b.content_hash"
        )
        return same.column(0).combine_chunks().cast(pa.string())

    def _load_batch(
        self,
        state: _LoadState,
        batch: ParquetBatch,
        on_progress: ProgressCallback | None,
        skip_unchanged: bool = True,
    ) -> None:
        changed = batch.request_ids
        unchanged = self._unchanged(batch) if skip_unchanged else None
        if unchanged is not None and len(unchanged):
            changed = changed.filter(pc.invert(pc.is_in(changed, value_set=unchanged)))
            state.unchanged = len(batch.request_ids) - len(changed)
        ctx = self._context(batch, changed)
        if len(changed):
            for table in reversed(declared.TABLES):
                self._execute(
                    f"DELETE FROM {qualified(self.schema, table)} "
                    f"WHERE request_id IN (SELECT request_id FROM {ctx.scope_table})"
                )
        # Only the rows of changed requests go in; all of them when nothing was skipped.
        only = None if len(changed) == len(batch.request_ids) else changed
        for name, files in batch.tables.items():
            if only is not None and not len(only):
                state.rows[name] = 0
                if on_progress:
                    on_progress(name, 0)
                continue
            try:
                state.rows[name] = self._insert_files(files, only)
            except Exception as exc:
                if self._is_unique_violation(exc):
                    raise self._duplicates_error(state, files) from exc
                raise
            if on_progress:
                on_progress(name, state.rows[name])
        if batch.objects is not None:
            name = declared.ETL_OBJECTS.name
            state.rows[name] = self._merge_objects(batch.objects)
            if on_progress:
                on_progress(name, state.rows[name])
        if set(self.check_config.skip) < {c.name for c in CHECKS}:
            self._after_insert([t for t, n in state.rows.items() if n])
        state.checks = self._evaluate_checks(ctx)

    def _merge_objects(self, files: TableFiles) -> int:
        """Batch etl_objects rows replace stored rows of the same key unless those are newer."""
        staged = self._stage_files(OBJECTS_STAGE, files)
        target = qualified(self.schema, declared.ETL_OBJECTS.name)
        columns = ", ".join(f'"{c}"' for c in declared.ETL_OBJECTS.column_names)
        latest = (
            f"(SELECT {columns} FROM (SELECT {columns}, row_number() OVER ("
            "PARTITION BY source_uri, source_sha256 ORDER BY updated_at DESC NULLS LAST"
            f") AS rn FROM {staged}) AS ranked WHERE rn = 1)"
        )
        same_key = "o.source_uri = b.source_uri AND o.source_sha256 = b.source_sha256"
        self._execute(
            f"DELETE FROM {target} AS o USING {latest} AS b WHERE {same_key} "
            "AND (o.updated_at IS NULL OR b.updated_at IS NULL OR b.updated_at >= o.updated_at)"
        )
        return self._execute(
            f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {latest} AS b "
            f"WHERE NOT EXISTS (SELECT 1 FROM {target} AS o WHERE {same_key})"
        )

    def _evaluate_checks(self, ctx: CheckContext) -> list[CheckResult]:
        results = []
        config = self.check_config
        for check in CHECKS:
            severity = effective_severity(check, config)
            checked_at = _now()
            sql = None if check.name in config.skip else check.sql(ctx)
            if sql is None:
                why = (
                    "skipped by configuration"
                    if check.name in config.skip
                    else "needs a batch's Parquet row counts: runs in a load, or with --parquet-dir"
                )
                results.append(
                    CheckResult(
                        check.name, severity, "skipped", 0, (), check.description, ctx.scope,
                        checked_at, 0, why,
                    )
                )  # fmt: skip
                continue
            started = time.perf_counter()
            rows = self._fetch(evaluation_sql(sql, config.sample_size)).to_pylist()
            failing = int(rows[0]["n"]) if rows else 0
            samples = tuple(f"{r['key']} [{r['detail']}]" for r in rows)
            results.append(
                CheckResult(
                    check.name,
                    severity,
                    status_for(severity, failing),
                    failing,
                    samples,
                    check.description,
                    ctx.scope,
                    checked_at,
                    round((time.perf_counter() - started) * 1000),
                )
            )
        return results

    def _duplicates_error(self, state: _LoadState, files: TableFiles) -> ChecksFailedError:
        """The database refused a duplicate key: report it as the keys_unique check does."""
        count, samples = files.duplicate_keys(self.check_config.sample_size)
        check = get_check("keys_unique")
        result = CheckResult(
            check.name, "blocking", "fail", count, tuple(samples), check.description, "batch",
            _now(), 0, f"duplicate keys within {files.table.name}'s Parquet files",
        )  # fmt: skip
        state.checks = [result]
        return ChecksFailedError(self._checks_message(state, [result]), [result], state.load_id)

    def _checks_message(self, state: _LoadState, failed: list[CheckResult]) -> str:
        lines = "\n".join(f"  - {r.summary()}" for r in failed)
        return (
            f"load {state.load_id} of {state.parquet_dir} into {self} was rolled back: "
            f"{len(failed)} blocking check(s) failed:\n{lines}\n"
            "Fix the data (re-run flatten for these request_ids) or, if it is right, make the "
            "check a warning (CheckConfig.severities). The results are in etl_check_results."
        )

    # --- audit -----------------------------------------------------------------------------

    def _record_load(
        self, state: _LoadState, status: str, error: str | None, finished: datetime
    ) -> None:
        batch = state.batch
        row = {
            "load_id": state.load_id,
            "run_id": state.run_id,
            "parquet_dir": state.parquet_dir,
            "status": status,
            "request_count": len(batch.request_ids) if batch else None,
            "object_count": batch.objects.rows if batch and batch.objects else 0,
            "table_rows": json.dumps(state.rows, sort_keys=True),
            "total_rows": sum(state.rows.values()),
            "error_message": error,
            "started_at": state.started_at,
            "finished_at": finished,
            "duration_ms": round((finished - state.started_at).total_seconds() * 1000),
            "clova_etl_version": __version__,
        }
        self._append(declared.ETL_LOADS.name, _audit_rows(declared.ETL_LOADS, [row]))
        if state.checks:
            self._record_checks(state.load_id, state.load_id, state.checks)

    def _record_checks(
        self,
        check_run_id: str,
        load_id: str | None,
        results: Sequence[CheckResult],
    ) -> None:
        rows = [
            {
                "check_run_id": check_run_id,
                "check_name": r.name,
                "load_id": load_id,
                "severity": r.severity,
                "status": r.status,
                "failing_rows": r.failing_rows,
                "sample_keys": json.dumps(list(r.sample_keys), ensure_ascii=False),
                "scope": r.scope,
                "description": r.description + (f" ({r.detail})" if r.detail else ""),
                "checked_at": r.checked_at,
                "duration_ms": r.duration_ms,
            }
            for r in results
        ]
        self._append(declared.ETL_CHECK_RESULTS.name, _audit_rows(declared.ETL_CHECK_RESULTS, rows))

    def _record_failure(self, state: _LoadState, error: WarehouseError) -> None:
        """Write the failed load's audit rows in a transaction of their own (best effort)."""
        try:
            self._begin()
            self._record_load(state, "failed", self.uri.redact(str(error))[:4000], _now())
            self._commit()
        except Exception as exc:  # the connection may be gone: the original error matters more
            log.warning("could not record failed load %s: %s", state.load_id, self._redact(exc))
            self._safe_rollback()

    # --- errors ----------------------------------------------------------------------------

    def _abort(self, exc: BaseException) -> BaseException:
        """Roll back; the error to raise for ``exc`` (driver errors mapped to ours)."""
        self._safe_rollback()
        if isinstance(exc, WarehouseError) or not isinstance(exc, Exception):
            return exc
        return self._translate(exc)

    def _safe_rollback(self) -> None:
        try:
            self._rollback()
        except Exception as exc:
            log.debug("rollback failed: %s", self._redact(exc))

    def _redact(self, exc: BaseException) -> str:
        return self.uri.redact(str(exc))


def _reraise(error: BaseException, cause: BaseException) -> NoReturn:
    """Raise ``error``; chained to ``cause`` when it is a translation of it."""
    if error is cause:
        raise error
    raise error from cause


def _audit_rows(table: declared.Table, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=table.arrow_schema)


__all__ = ["LoadResult", "ProgressCallback", "Warehouse"]
