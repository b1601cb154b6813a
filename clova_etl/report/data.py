"""What an operator wants to know about the warehouse (or one run), read with a few queries.

:func:`collect_report` runs the same SQL on DuckDB and PostgreSQL through
:meth:`clova_etl.warehouse.Warehouse.query`; :mod:`.html` and :mod:`.text` only format the
:class:`ReportData` it returns. Nothing here writes to the warehouse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from clova_etl.warehouse.ddl import qualified
from clova_etl.warehouse.uri import quote_literal

if TYPE_CHECKING:
    from clova_etl.warehouse import Warehouse

__all__ = [
    "CONFIDENCE_BINS",
    "CheckRow",
    "ConfidenceRow",
    "FailureRow",
    "LoadRow",
    "NotAClovaWarehouseError",
    "ReportData",
    "SlowRow",
    "collect_report",
]

# Fields are binned by confidence in tenths: [0, 0.1), [0.1, 0.2) … [0.9, 1.0].
CONFIDENCE_BINS = 10
# Rows shown per list (failures, slowest documents…); the totals are always exact.
LIST_LIMIT = 50
SLOWEST_LIMIT = 10
REQUIRED_TABLES = ("ocr_requests", "ocr_images", "ocr_fields", "etl_objects", "etl_loads")


class NotAClovaWarehouseError(RuntimeError):
    """The warehouse schema holds no clova-etl tables (wrong URI or schema, or never loaded)."""


@dataclass(frozen=True)
class FailureRow:
    """A request or object that did not end loaded, with its reason."""

    kind: str  # "request" or "object"
    source_uri: str
    status: str
    error_code: str | None
    error_message: str | None
    at: datetime | None
    request_id: str | None = None
    attempts: int | None = None


@dataclass(frozen=True)
class SlowRow:
    """One OCR request and how long its call took."""

    request_id: str
    source_uri: str
    api: str | None
    pages: int | None
    attempts: int | None
    duration_ms: int
    status: str


@dataclass(frozen=True)
class ConfidenceRow:
    """One document's field confidence."""

    source_uri: str
    fields: int
    mean_confidence: float | None
    low_fields: int


@dataclass(frozen=True)
class LoadRow:
    """One load attempt (etl_loads)."""

    load_id: str
    run_id: str | None
    status: str
    request_count: int | None
    total_rows: int | None
    started_at: datetime | None
    duration_ms: int | None
    error_message: str | None


@dataclass(frozen=True)
class CheckRow:
    """One check result of the check run shown."""

    name: str
    severity: str
    status: str
    failing_rows: int | None
    sample_keys: str | None
    description: str | None

    @property
    def samples(self) -> list[str]:
        """The sample offending keys (stored as a JSON array of text)."""
        if not self.sample_keys:
            return []
        try:
            keys = json.loads(self.sample_keys)
        except ValueError:
            return [self.sample_keys]
        return [str(k) for k in keys] if isinstance(keys, list) else [str(keys)]


@dataclass
class ReportData:
    """Counts, failures, confidence, slowest documents, loads and checks of one scope."""

    warehouse: str
    schema: str
    run_id: str | None
    generated_at: datetime
    objects_by_status: dict[str, int] = field(default_factory=dict)
    request_documents: int = 0
    """Distinct source objects among the requests (etl_objects may be empty after a replay)."""
    requests_by_status: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    billable_calls: int = 0
    billable_pages: int = 0
    billing: dict[str, int] | None = None
    """The bill from the store's ledger of charges, when the report was given the store."""
    failures: list[FailureRow] = field(default_factory=list)
    failure_count: int = 0
    confidence_bins: list[int] = field(default_factory=lambda: [0] * CONFIDENCE_BINS)
    confidence_null: int = 0
    confidence_mean: float | None = None
    low_confidence: float = 0.5
    least_confident: list[ConfidenceRow] = field(default_factory=list)
    slowest: list[SlowRow] = field(default_factory=list)
    loads: list[LoadRow] = field(default_factory=list)
    checks: list[CheckRow] = field(default_factory=list)
    checks_of: str | None = None
    """The load (or check run) whose checks are shown."""

    @property
    def documents(self) -> int:
        """Source objects seen (every status)."""
        return sum(self.objects_by_status.values())

    @property
    def requests(self) -> int:
        """OCR requests recorded (every status)."""
        return sum(self.requests_by_status.values())

    @property
    def failed_checks(self) -> list[CheckRow]:
        """Blocking checks that failed."""
        return [c for c in self.checks if c.status == "fail"]

    @property
    def warned_checks(self) -> list[CheckRow]:
        """Warning checks that found something."""
        return [c for c in self.checks if c.status == "warn"]


# Row counts shown, as (label, table).
COUNTED_TABLES: tuple[tuple[str, str], ...] = (
    ("pages", "ocr_images"),
    ("fields", "ocr_fields"),
    ("subfields", "ocr_subfields"),
    ("tables", "ocr_tables"),
    ("table cells", "ocr_table_cells"),
    ("cell words", "ocr_cell_words"),
)


class _Queries:
    """The report's SQL for one schema and an optional run filter."""

    def __init__(self, wh: Warehouse, run_id: str | None) -> None:
        self.wh = wh
        self.schema = wh.schema
        self.run_id = run_id
        self.run = quote_literal(run_id) if run_id is not None else None

    def t(self, table: str) -> str:
        return qualified(self.schema, table)

    def rows(self, sql: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.wh.query(sql).to_pylist()
        return result

    def request_filter(self, alias: str = "r") -> str:
        return f"WHERE {alias}.run_id = {self.run}" if self.run else ""

    def child_count(self, table: str) -> int:
        if not self.run:
            return int(self.rows(f"SELECT count(*) AS n FROM {self.t(table)}")[0]["n"])
        sql = (
            f"SELECT count(*) AS n FROM {self.t(table)} AS c "
            f"JOIN {self.t('ocr_requests')} AS r ON r.request_id = c.request_id "
            f"{self.request_filter()}"
        )
        return int(self.rows(sql)[0]["n"])


def _tables(wh: Warehouse) -> set[str]:
    sql = (
        "SELECT table_name FROM information_schema.tables "
        f"WHERE table_schema = {quote_literal(wh.schema)}"
    )
    return {str(r["table_name"]) for r in wh.query(sql).to_pylist()}


def collect_report(
    wh: Warehouse, *, run_id: str | None = None, low_confidence: float = 0.5
) -> ReportData:
    """Read everything the report shows; ``run_id`` limits it to one pipeline run."""
    missing = [t for t in REQUIRED_TABLES if t not in _tables(wh)]
    if missing:
        raise NotAClovaWarehouseError(
            f"schema {wh.schema!r} of {wh.uri} has no clova-etl table(s) {', '.join(missing)}: "
            "is it the right warehouse and schema, and has anything been loaded yet?"
        )
    q = _Queries(wh, run_id)
    data = ReportData(
        warehouse=str(wh.uri),
        schema=wh.schema,
        run_id=run_id,
        generated_at=datetime.now(UTC),
        low_confidence=low_confidence,
    )
    _counts(q, data)
    _failures(q, data)
    _confidence(q, data)
    _slowest(q, data)
    _loads_and_checks(q, data)
    return data


def _counts(q: _Queries, data: ReportData) -> None:
    obj_filter = f"WHERE run_id = {q.run}" if q.run else ""
    data.objects_by_status = {
        str(r["status"]): int(r["n"])
        for r in q.rows(
            f"SELECT status, count(*) AS n FROM {q.t('etl_objects')} {obj_filter} "
            "GROUP BY status ORDER BY status"
        )
    }
    reqs = q.rows(
        "SELECT r.status, count(*) AS n, "
        "sum(CASE WHEN r.billable THEN 1 ELSE 0 END) AS calls, "
        "sum(COALESCE(r.billable_pages, 0)) AS pages "
        f"FROM {q.t('ocr_requests')} AS r {q.request_filter()} GROUP BY r.status ORDER BY r.status"
    )
    data.requests_by_status = {str(r["status"]): int(r["n"]) for r in reqs}
    data.request_documents = int(
        q.rows(
            f"SELECT count(DISTINCT r.source_uri) AS n FROM {q.t('ocr_requests')} AS r "
            f"{q.request_filter()}"
        )[0]["n"]
    )
    data.billable_calls = sum(int(r["calls"] or 0) for r in reqs)
    data.billable_pages = sum(int(r["pages"] or 0) for r in reqs)
    data.rows = {label: q.child_count(table) for label, table in COUNTED_TABLES}


def _failures(q: _Queries, data: ReportData) -> None:
    req_where = "WHERE r.status <> 'succeeded'" + (f" AND r.run_id = {q.run}" if q.run else "")
    obj_where = "WHERE o.status <> 'loaded'" + (f" AND o.run_id = {q.run}" if q.run else "")
    total = q.rows(
        f"SELECT (SELECT count(*) FROM {q.t('ocr_requests')} AS r {req_where}) AS requests, "
        f"(SELECT count(*) FROM {q.t('etl_objects')} AS o {obj_where}) AS objects"
    )[0]
    data.failure_count = int(total["requests"]) + int(total["objects"])
    for r in q.rows(
        "SELECT r.request_id, r.source_uri, r.status, r.error_code, r.error_message, r.attempts, "
        "COALESCE(r.completed_at, r.requested_at) AS failed_at "
        f"FROM {q.t('ocr_requests')} AS r {req_where} "
        f"ORDER BY failed_at DESC NULLS LAST, r.source_uri LIMIT {LIST_LIMIT}"
    ):
        data.failures.append(
            FailureRow(
                "request",
                str(r["source_uri"] or ""),
                str(r["status"]),
                r["error_code"],
                r["error_message"],
                r["failed_at"],
                request_id=r["request_id"],
                attempts=r["attempts"],
            )
        )
    for r in q.rows(
        "SELECT o.source_uri, o.status, o.error_code, o.error_message, o.updated_at AS failed_at "
        f"FROM {q.t('etl_objects')} AS o {obj_where} "
        f"ORDER BY o.updated_at DESC NULLS LAST, o.source_uri LIMIT {LIST_LIMIT}"
    ):
        data.failures.append(
            FailureRow(
                "object",
                str(r["source_uri"]),
                str(r["status"]),
                r["error_code"],
                r["error_message"],
                r["failed_at"],
            )
        )


def _confidence(q: _Queries, data: ReportData) -> None:
    join = (
        f"JOIN {q.t('ocr_requests')} AS r ON r.request_id = f.request_id {q.request_filter()}"
        if q.run
        else ""
    )
    # Bin in SQL (tenths; 1.0 goes into the top bin) so a large warehouse sends back 11 rows.
    bins = q.rows(
        "SELECT CASE WHEN f.infer_confidence IS NULL THEN -1 "
        f"WHEN f.infer_confidence >= 1 THEN {CONFIDENCE_BINS - 1} "
        f"ELSE CAST(floor(f.infer_confidence * {CONFIDENCE_BINS}) AS INTEGER) END AS bin, "
        "count(*) AS n, sum(f.infer_confidence) AS total "
        f"FROM {q.t('ocr_fields')} AS f {join} GROUP BY 1 ORDER BY 1"
    )
    total, counted = 0.0, 0
    for r in bins:
        b, n = int(r["bin"]), int(r["n"])
        if b < 0:
            data.confidence_null = n
            continue
        data.confidence_bins[max(0, min(b, CONFIDENCE_BINS - 1))] += n
        total += float(r["total"] or 0.0)
        counted += n
    data.confidence_mean = total / counted if counted else None
    low = repr(float(data.low_confidence))
    for r in q.rows(
        "SELECT r.source_uri, count(*) AS fields, avg(f.infer_confidence) AS mean, "
        f"sum(CASE WHEN f.infer_confidence < {low} THEN 1 ELSE 0 END) AS low "
        f"FROM {q.t('ocr_fields')} AS f "
        f"JOIN {q.t('ocr_requests')} AS r ON r.request_id = f.request_id {q.request_filter()} "
        "GROUP BY r.source_uri HAVING count(f.infer_confidence) > 0 "
        f"ORDER BY mean, r.source_uri LIMIT {SLOWEST_LIMIT}"
    ):
        data.least_confident.append(
            ConfidenceRow(
                str(r["source_uri"]),
                int(r["fields"]),
                float(r["mean"]) if r["mean"] is not None else None,
                int(r["low"] or 0),
            )
        )


def _slowest(q: _Queries, data: ReportData) -> None:
    where = "WHERE r.duration_ms IS NOT NULL" + (f" AND r.run_id = {q.run}" if q.run else "")
    for r in q.rows(
        "SELECT r.request_id, r.source_uri, r.api, r.pages_sent, r.attempts, r.duration_ms, "
        f"r.status FROM {q.t('ocr_requests')} AS r {where} "
        f"ORDER BY r.duration_ms DESC, r.request_id LIMIT {SLOWEST_LIMIT}"
    ):
        data.slowest.append(
            SlowRow(
                str(r["request_id"]),
                str(r["source_uri"] or ""),
                r["api"],
                r["pages_sent"],
                r["attempts"],
                int(r["duration_ms"]),
                str(r["status"]),
            )
        )


def _loads_and_checks(q: _Queries, data: ReportData) -> None:
    where = f"WHERE l.run_id = {q.run}" if q.run else ""
    for r in q.rows(
        "SELECT l.load_id, l.run_id, l.status, l.request_count, l.total_rows, l.started_at, "
        f"l.duration_ms, l.error_message FROM {q.t('etl_loads')} AS l {where} "
        f"ORDER BY l.started_at DESC NULLS LAST, l.load_id LIMIT {SLOWEST_LIMIT}"
    ):
        data.loads.append(
            LoadRow(
                str(r["load_id"]),
                r["run_id"],
                str(r["status"]),
                r["request_count"],
                r["total_rows"],
                r["started_at"],
                r["duration_ms"],
                r["error_message"],
            )
        )
    if "etl_check_results" not in _tables(q.wh):
        return
    # The checks of the latest load in scope; without a run filter, of the latest check run
    # (a load's or a standalone `clova-etl check`).
    if q.run:
        if not data.loads:
            return
        check_run = data.loads[0].load_id
    else:
        latest = q.rows(
            f"SELECT c.check_run_id FROM {q.t('etl_check_results')} AS c "
            "ORDER BY c.checked_at DESC NULLS LAST, c.check_run_id LIMIT 1"
        )
        if not latest:
            return
        check_run = str(latest[0]["check_run_id"])
    data.checks_of = check_run
    for r in q.rows(
        "SELECT c.check_name, c.severity, c.status, c.failing_rows, c.sample_keys, c.description "
        f"FROM {q.t('etl_check_results')} AS c "
        f"WHERE c.check_run_id = {quote_literal(check_run)} ORDER BY c.checked_at, c.check_name"
    ):
        data.checks.append(
            CheckRow(
                str(r["check_name"]),
                str(r["severity"]),
                str(r["status"]),
                r["failing_rows"],
                r["sample_keys"],
                r["description"],
            )
        )
