"""Validation checks: each one SQL query that returns the offending rows as ``(key, detail)``.

A check is declared once here (name, severity, description, query builder); the same query runs
in both dialects and is written to ``sql/checks/<name>.sql``. After a load the checks run inside
the load's transaction, scoped to the batch's request_ids (scope ``batch``), so a failing
blocking check rolls the load back; ``clova-etl check`` runs them over the whole warehouse
(scope ``warehouse``). Queries are derived from the schema declaration (keys, parents,
confidence and geometry columns), so a new table or column is checked without new SQL.

Severity: *blocking* checks guard the tables' contract (keys, parents, ranges, boxes, spans,
counts): a failure means corrupt data or a flattener bug, and the load fails. *Warning* checks
flag what the OCR service may legitimately produce (overlapping cells, fewer pages returned
than sent, low confidence) or what another stage owns (objects without a terminal status): they
are recorded in ``etl_check_results`` but one odd document does not stop its batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from clova_etl import schema as declared
from clova_etl.schema import Table
from clova_etl.warehouse.ddl import qualified
from clova_etl.warehouse.errors import WarehouseConfigError
from clova_etl.warehouse.uri import DEFAULT_SCHEMA, Dialect, quote_ident, quote_literal

Severity = Literal["blocking", "warning"]
Status = Literal["pass", "fail", "warn", "skipped"]
Scope = Literal["batch", "warehouse"]

TERMINAL_OBJECT_STATUSES = ("loaded", "failed", "rejected", "skipped")


@dataclass(frozen=True)
class CheckConfig:
    """Tunables of the checks: thresholds, sample size, severity overrides, skipped checks."""

    low_confidence: float = 0.5
    """A field whose ``infer_confidence`` is below this counts as low-confidence."""
    max_low_confidence_share: float = 0.2
    """A request whose share of low-confidence fields exceeds this is reported (warning)."""
    sample_size: int = 5
    severities: Mapping[str, Severity] = field(default_factory=dict)
    skip: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name, value in (
            ("low_confidence", self.low_confidence),
            ("max_low_confidence_share", self.max_low_confidence_share),
        ):
            if not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
                raise WarehouseConfigError(f"{name} must be a number in [0, 1], got {value!r}")
        if self.sample_size < 1:
            raise WarehouseConfigError(f"sample_size must be at least 1, got {self.sample_size}")
        unknown = (set(self.severities) | set(self.skip)) - {c.name for c in CHECKS}
        if unknown:
            raise WarehouseConfigError(
                f"unknown check name(s) {sorted(unknown)}; known: {[c.name for c in CHECKS]}"
            )
        bad = {k: v for k, v in self.severities.items() if v not in ("blocking", "warning")}
        if bad:
            raise WarehouseConfigError(f"severity must be 'blocking' or 'warning': {bad}")


@dataclass(frozen=True)
class CheckContext:
    """Where a check's query runs: dialect, schema, and the batch's temp tables if scoped."""

    dialect: Dialect
    schema: str = DEFAULT_SCHEMA
    scope_table: str | None = None
    """Qualified temp table ``(request_id)`` of the batch; None checks the whole warehouse."""
    expected_table: str | None = None
    """Qualified temp table ``(table_name, row_count)`` of the batch's Parquet row counts."""
    config: CheckConfig = field(default_factory=CheckConfig)
    enforced_keys: frozenset[str] = frozenset()
    """Tables whose declared key the database enforces (a PRIMARY KEY): keys_unique skips them."""

    @property
    def scope(self) -> Scope:
        return "batch" if self.scope_table else "warehouse"

    def t(self, table: str) -> str:
        """A warehouse table, qualified and quoted."""
        return qualified(self.schema, table)

    def in_scope(self, column: str) -> str:
        """A predicate keeping the batch's rows (``TRUE`` over the whole warehouse)."""
        if self.scope_table is None:
            return "TRUE"
        return f"{column} IN (SELECT request_id FROM {self.scope_table})"


@dataclass(frozen=True)
class Check:
    """One validation check: its SQL lists offending rows as ``(key, detail)`` text columns."""

    name: str
    severity: Severity
    description: str
    build: Callable[[CheckContext], str | None] = field(repr=False)
    """Returns the query, or None when the check does not apply in this context."""

    def sql(self, ctx: CheckContext) -> str | None:
        """The check's query in ``ctx``, or None when it cannot run there."""
        sql = self.build(ctx)
        # Over the whole warehouse the scope predicate is TRUE: drop it for readable SQL.
        return sql.replace("WHERE TRUE AND ", "WHERE ") if sql is not None else None


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check in one check run."""

    name: str
    severity: Severity
    status: Status
    failing_rows: int
    sample_keys: tuple[str, ...]
    description: str
    scope: Scope
    checked_at: datetime
    duration_ms: int
    detail: str = ""
    """Why a check was skipped; empty otherwise."""

    @property
    def ok(self) -> bool:
        """Whether the check did not fail (a warning is ok)."""
        return self.status != "fail"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "name": self.name,
            "severity": self.severity,
            "status": self.status,
            "failing_rows": self.failing_rows,
            "sample_keys": list(self.sample_keys),
            "scope": self.scope,
            "checked_at": self.checked_at.isoformat(),
            "duration_ms": self.duration_ms,
            "detail": self.detail,
        }

    def summary(self) -> str:
        """One line: name, status, count and sample keys."""
        text = f"{self.name} [{self.severity}] {self.status}"
        if self.failing_rows:
            text += f": {self.failing_rows} offending row(s), e.g. {'; '.join(self.sample_keys)}"
        elif self.detail:
            text += f" ({self.detail})"
        return text


def status_for(severity: Severity, failing_rows: int) -> Status:
    """pass when nothing offends; otherwise fail (blocking) or warn (warning)."""
    if failing_rows == 0:
        return "pass"
    return "fail" if severity == "blocking" else "warn"


def evaluation_sql(check_sql: str, sample_size: int) -> str:
    """Wraps a check query: a few offending ``(key, detail)`` rows and their total count ``n``."""
    return (
        f"SELECT key, detail, count(*) OVER () AS n FROM (\n{check_sql}\n) AS offending "
        f"ORDER BY key LIMIT {int(sample_size)}"
    )


# --- query builders ------------------------------------------------------------------------


def _text(expr: str) -> str:
    return f"CAST({expr} AS VARCHAR)"


def key_text(table: Table, alias: str, columns: tuple[str, ...] | None = None) -> str:
    """SQL text of a row's key, e.g. ``ocr_fields(request_id=…, image_index=0, field_index=3)``."""
    parts: list[str] = []
    for i, name in enumerate(columns or table.key):
        sep = ", " if i else ""
        parts.append(quote_literal(f"{sep}{name}="))
        parts.append(_text(f"{alias}.{quote_ident(name)}"))
    return f"{quote_literal(table.name + '(')} || " + " || ".join(parts) + " || ')'"


def _union(queries: list[str]) -> str:
    return "\nUNION ALL\n".join(queries)


def _ocr_tables() -> Iterator[Table]:
    return iter(declared.TABLES.values())


_NOTHING = "SELECT CAST(NULL AS VARCHAR) AS key, CAST(NULL AS VARCHAR) AS detail WHERE FALSE"


def _keys_unique(ctx: CheckContext) -> str:
    queries = []
    for table in (*_ocr_tables(), declared.ETL_OBJECTS):
        if table.name in ctx.enforced_keys:
            continue  # the database already refused any duplicate

        keys = ", ".join(f"k.{quote_ident(c)}" for c in table.key)
        scope = ctx.in_scope("k.request_id") if "request_id" in table.key else "TRUE"
        queries.append(
            f"SELECT {key_text(table, 'k')} AS key, 'rows=' || {_text('count(*)')} AS detail\n"
            f"FROM {ctx.t(table.name)} AS k WHERE {scope}\n"
            f"GROUP BY {keys} HAVING count(*) > 1"
        )
    return _union(queries) if queries else _NOTHING


def _parents_exist(ctx: CheckContext) -> str:
    queries = []
    for table in _ocr_tables():
        if not table.parent:
            continue
        parent = declared.TABLES[table.parent]
        # The parent's own key: a cell word's key adds two columns (line_index, word_index) to
        # its cell's.
        match = " AND ".join(f"p.{quote_ident(c)} = c.{quote_ident(c)}" for c in parent.key)
        missing = f"NOT EXISTS (SELECT 1 FROM {ctx.t(parent.name)} AS p WHERE {match})"
        if table.name == declared.OCR_SUBFIELDS.name:
            # The title's subFields (field_index -1) belong to the image, which holds the title.
            image_match = " AND ".join(
                f"i.{quote_ident(c)} = c.{quote_ident(c)}" for c in declared.OCR_IMAGES.key
            )
            missing = (
                f"CASE WHEN c.field_index = -1 THEN NOT EXISTS (SELECT 1 FROM "
                f"{ctx.t(declared.OCR_IMAGES.name)} AS i WHERE {image_match}) ELSE {missing} END"
            )
        queries.append(
            f"SELECT {key_text(table, 'c')} AS key, {quote_literal('no ' + parent.name + ' row')} "
            f"AS detail\nFROM {ctx.t(table.name)} AS c\n"
            f"WHERE {ctx.in_scope('c.request_id')} AND {missing}"
        )
    return _union(queries)


def _confidence_columns(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.name.endswith("confidence")]


def _confidence_range(ctx: CheckContext) -> str:
    queries = []
    for table in _ocr_tables():
        for column in _confidence_columns(table):
            col = f"c.{quote_ident(column)}"
            queries.append(
                f"SELECT {key_text(table, 'c')} AS key, "
                f"{quote_literal(column + '=')} || {_text(col)} AS detail\n"
                f"FROM {ctx.t(table.name)} AS c\n"
                f"WHERE {ctx.in_scope('c.request_id')} AND NOT ({col} BETWEEN 0 AND 1)"
            )
    return _union(queries)


def _geometry_prefixes(table: Table) -> list[str]:
    return [c.name[: -len("polygon")] for c in table.columns if c.name.endswith("polygon")]


def _boxes_well_formed(ctx: CheckContext) -> str:
    queries = []
    for table in _ocr_tables():
        for prefix in _geometry_prefixes(table):
            q = {
                n: f"c.{quote_ident(prefix + n)}"
                for n in ("polygon", "x_min", "y_min", "x_max", "y_max")
            }
            box = [q["x_min"], q["y_min"], q["x_max"], q["y_max"]]
            all_null = " AND ".join(f"{b} IS NULL" for b in box)
            any_null = " OR ".join(f"{b} IS NULL" for b in box)
            bad = (
                f"({any_null}) AND NOT ({all_null})\n"
                f"   OR {q['x_min']} > {q['x_max']} OR {q['y_min']} > {q['y_max']}\n"
                f"   OR ({q['polygon']} IS NOT NULL AND "
                f"(COALESCE(array_length({q['polygon']}, 1), 0) <> 8 OR {q['x_min']} IS NULL))"
            )
            vertices = f"array_length({q['polygon']}, 1)"
            detail = (
                f"{quote_literal(prefix + 'box=')} || COALESCE({_text(q['x_min'])}, 'null') || ',' "
                f"|| COALESCE({_text(q['y_min'])}, 'null') || ',' || "
                f"COALESCE({_text(q['x_max'])}, 'null') || ',' || "
                f"COALESCE({_text(q['y_max'])}, 'null') || ' vertices=' || "
                f"COALESCE({_text(vertices)}, 'null')"
            )
            queries.append(
                f"SELECT {key_text(table, 'c')} AS key, {detail} AS detail\n"
                f"FROM {ctx.t(table.name)} AS c\n"
                f"WHERE {ctx.in_scope('c.request_id')} AND (\n      {bad}\n)"
            )
    return _union(queries)


def _cell_spans_inside_table(ctx: CheckContext) -> str:
    cells = declared.OCR_TABLE_CELLS
    join = " AND ".join(f"t.{c} = c.{c}" for c in declared.OCR_TABLES.key)
    return (
        f"SELECT {key_text(cells, 'c')} AS key,\n"
        "  'row ' || COALESCE(CAST(c.row_index AS VARCHAR), 'null') || '+' || "
        "COALESCE(CAST(c.row_span AS VARCHAR), 'null') || ' of ' || "
        "COALESCE(CAST(t.row_count AS VARCHAR), 'null') || ', column ' || "
        "COALESCE(CAST(c.column_index AS VARCHAR), 'null') || '+' || "
        "COALESCE(CAST(c.column_span AS VARCHAR), 'null') || ' of ' || "
        "COALESCE(CAST(t.column_count AS VARCHAR), 'null') AS detail\n"
        f"FROM {ctx.t(cells.name)} AS c JOIN {ctx.t(declared.OCR_TABLES.name)} AS t ON {join}\n"
        f"WHERE {ctx.in_scope('c.request_id')} AND NOT COALESCE(\n"
        "      c.row_index >= 0 AND c.column_index >= 0 AND c.row_span >= 1 "
        "AND c.column_span >= 1\n"
        "  AND c.row_index + c.row_span <= t.row_count\n"
        "  AND c.column_index + c.column_span <= t.column_count, FALSE)"
    )


def _cells_not_overlapping(ctx: CheckContext) -> str:
    cells = declared.OCR_TABLE_CELLS
    join = " AND ".join(f"b.{c} = a.{c}" for c in declared.OCR_TABLES.key)
    return (
        f"SELECT {key_text(cells, 'a')} AS key, "
        "'overlaps cell_index=' || CAST(b.cell_index AS VARCHAR) AS detail\n"
        f"FROM {ctx.t(cells.name)} AS a JOIN {ctx.t(cells.name)} AS b\n"
        f"  ON {join} AND a.cell_index < b.cell_index\n"
        f"WHERE {ctx.in_scope('a.request_id')}\n"
        "  AND a.row_index < b.row_index + b.row_span AND b.row_index < a.row_index + a.row_span\n"
        "  AND a.column_index < b.column_index + b.column_span\n"
        "  AND b.column_index < a.column_index + a.column_span"
    )


def _pages_detail() -> str:
    return (
        "'pages_sent=' || COALESCE(CAST(r.pages_sent AS VARCHAR), 'null') || "
        "' pages_returned=' || COALESCE(CAST(r.pages_returned AS VARCHAR), 'null')"
    )


def _pages_returned_match_sent(ctx: CheckContext) -> str:
    requests = declared.OCR_REQUESTS
    return (
        f"SELECT {key_text(requests, 'r')} AS key, {_pages_detail()} AS detail\n"
        f"FROM {ctx.t(requests.name)} AS r\n"
        f"WHERE {ctx.in_scope('r.request_id')} AND r.status = 'succeeded'\n"
        "  AND r.pages_sent IS NOT NULL AND r.pages_returned IS DISTINCT FROM r.pages_sent"
    )


def _images_match_pages_returned(ctx: CheckContext) -> str:
    requests, images = declared.OCR_REQUESTS, declared.OCR_IMAGES
    return (
        f"SELECT {key_text(requests, 'r')} AS key, {_pages_detail()} || "
        "' image_rows=' || CAST(COALESCE(i.n, 0) AS VARCHAR) AS detail\n"
        f"FROM {ctx.t(requests.name)} AS r\n"
        f"LEFT JOIN (SELECT request_id, count(*) AS n FROM {ctx.t(images.name)}\n"
        f"           WHERE {ctx.in_scope('request_id')} GROUP BY request_id) AS i\n"
        "  ON i.request_id = r.request_id\n"
        f"WHERE {ctx.in_scope('r.request_id')} AND r.status = 'succeeded'\n"
        "  AND r.pages_returned IS DISTINCT FROM COALESCE(i.n, 0)"
    )


def _row_counts_match_parquet(ctx: CheckContext) -> str | None:
    if ctx.expected_table is None:
        return None
    counts = _union(
        [
            f"SELECT {quote_literal(t.name)} AS table_name, count(*) AS n "
            f"FROM {ctx.t(t.name)} WHERE {ctx.in_scope('request_id')}"
            for t in _ocr_tables()
        ]
    )
    return (
        "SELECT e.table_name AS key, 'parquet=' || CAST(e.row_count AS VARCHAR) || "
        "' warehouse=' || CAST(w.n AS VARCHAR) AS detail\n"
        f"FROM {ctx.expected_table} AS e JOIN (\n{counts}\n) AS w ON w.table_name = e.table_name\n"
        "WHERE w.n <> e.row_count"
    )


def _objects_terminal(ctx: CheckContext) -> str:
    objects = declared.ETL_OBJECTS
    terminal = ", ".join(quote_literal(s) for s in TERMINAL_OBJECT_STATUSES)
    return (
        f"SELECT {key_text(objects, 'o')} AS key, "
        "'status=' || COALESCE(o.status, 'null') || ' run_id=' || COALESCE(o.run_id, 'null') "
        "AS detail\n"
        f"FROM {ctx.t(objects.name)} AS o\n"
        f"WHERE o.status IS NULL OR o.status NOT IN ({terminal})"
    )


def _low_confidence_share(ctx: CheckContext) -> str:
    low = float(ctx.config.low_confidence)
    share = float(ctx.config.max_low_confidence_share)
    return (
        "SELECT 'ocr_requests(request_id=' || s.request_id || ')' AS key,\n"
        "  'low_confidence_fields=' || CAST(s.low AS VARCHAR) || ' of ' || CAST(s.n AS VARCHAR) "
        f"|| ' (share > {share!r}, confidence < {low!r})' AS detail\n"
        "FROM (\n"
        f"  SELECT f.request_id, count(*) AS n, "
        f"count(CASE WHEN f.infer_confidence < {low!r} THEN 1 END) AS low\n"
        f"  FROM {ctx.t(declared.OCR_FIELDS.name)} AS f\n"
        f"  WHERE {ctx.in_scope('f.request_id')} AND f.infer_confidence IS NOT NULL\n"
        "  GROUP BY f.request_id\n"
        ") AS s\n"
        f"WHERE s.low > {share!r} * s.n"
    )


CHECKS: tuple[Check, ...] = (
    Check(
        "keys_unique",
        "blocking",
        "Every table's declared key is unique (etl_objects: source_uri + source_sha256); "
        "tables with a PRIMARY KEY (PostgreSQL) are enforced by it and not queried.",
        _keys_unique,
    ),
    Check(
        "parents_exist",
        "blocking",
        "Every child row has its parent row (a title's subFields, field_index -1, its image).",
        _parents_exist,
    ),
    Check(
        "row_counts_match_parquet",
        "blocking",
        "Rows in the warehouse for the batch's request_ids equal the rows of its Parquet files.",
        _row_counts_match_parquet,
    ),
    Check(
        "confidence_range",
        "blocking",
        "Every *confidence column is within [0, 1] (or null).",
        _confidence_range,
    ),
    Check(
        "boxes_well_formed",
        "blocking",
        "Boxes have x_min <= x_max and y_min <= y_max, all four edges or none, and a polygon "
        "has 4 vertices (8 numbers) and a box.",
        _boxes_well_formed,
    ),
    Check(
        "cell_spans_inside_table",
        "blocking",
        "Every cell's row/column index and span lie inside its table's row and column counts.",
        _cell_spans_inside_table,
    ),
    Check(
        "images_match_pages_returned",
        "blocking",
        "A succeeded request has as many ocr_images rows as its pages_returned.",
        _images_match_pages_returned,
    ),
    Check(
        "cells_not_overlapping",
        "warning",
        "No two cells of a table cover the same grid position.",
        _cells_not_overlapping,
    ),
    Check(
        "pages_returned_match_sent",
        "warning",
        "A succeeded request returned as many pages as it sent (when pages_sent is known: a "
        "bare response file has none).",
        _pages_returned_match_sent,
    ),
    Check(
        "objects_terminal",
        "warning",
        "Every discovered object (etl_objects, whole warehouse) ended loaded, failed or rejected.",
        _objects_terminal,
    ),
    Check(
        "low_confidence_share",
        "warning",
        "No request has more than max_low_confidence_share of its fields below low_confidence.",
        _low_confidence_share,
    ),
)
"""Every check, in the order they run."""


def get_check(name: str) -> Check:
    """The check called ``name``."""
    for check in CHECKS:
        if check.name == name:
            return check
    raise KeyError(name)


def effective_severity(check: Check, config: CheckConfig) -> Severity:
    """The check's severity after the configuration's overrides."""
    return config.severities.get(check.name, check.severity)


__all__ = [
    "CHECKS",
    "TERMINAL_OBJECT_STATUSES",
    "Check",
    "CheckConfig",
    "CheckContext",
    "CheckResult",
    "Scope",
    "Severity",
    "Status",
    "effective_severity",
    "evaluation_sql",
    "get_check",
    "key_text",
    "status_for",
]
