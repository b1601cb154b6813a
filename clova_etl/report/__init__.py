"""Operator report: counts, failures with reasons, confidence, slowest documents, checks.

    data = build_report("duckdb:///data/warehouse.duckdb", out="report.html")

One static HTML page (inline CSS and SVG, no script, nothing fetched) from any clova-etl
warehouse, for the whole warehouse or one pipeline run; :func:`render_text` gives the same
essentials for a terminal. :mod:`.docs` generates the README's reference sections.
"""

from __future__ import annotations

from pathlib import Path

from clova_etl.config import StoreConfig
from clova_etl.report.data import (
    CONFIDENCE_BINS,
    CheckRow,
    ConfidenceRow,
    FailureRow,
    LoadRow,
    NotAClovaWarehouseError,
    ReportData,
    SlowRow,
    collect_report,
)
from clova_etl.report.html import confidence_svg, render_html
from clova_etl.report.text import display_width, format_rows, render_text

__all__ = [
    "CONFIDENCE_BINS",
    "CheckRow",
    "ConfidenceRow",
    "FailureRow",
    "LoadRow",
    "NotAClovaWarehouseError",
    "ReportData",
    "SlowRow",
    "build_report",
    "collect_report",
    "confidence_svg",
    "display_width",
    "format_rows",
    "render_html",
    "render_text",
]


def build_report(
    uri: str,
    *,
    out: str | Path | None = None,
    schema: str | None = None,
    run_id: str | None = None,
    low_confidence: float = 0.5,
    store: StoreConfig | None = None,
    inspect_href: str | None = None,
) -> ReportData:
    """Read the report from the warehouse at ``uri``; write the HTML page to ``out`` if given.

    With ``store``, the report also shows the bill from its ledger of charges (answered /
    possibly billed / re-sent). A DuckDB file that does not exist is an error (it is never
    created for a report). ``inspect_href``: the folder of the inspector pages relative to
    ``out`` (links each document to its inspector page).
    """
    from clova_etl.warehouse import DEFAULT_SCHEMA, connect, parse_warehouse_uri

    parsed = parse_warehouse_uri(uri)
    if (
        parsed.dialect == "duckdb"
        and parsed.target != ":memory:"
        and not Path(parsed.target).exists()
    ):
        raise NotAClovaWarehouseError(f"no DuckDB file at {parsed.target}")
    with connect(parsed, schema=schema or DEFAULT_SCHEMA) as wh:
        data = collect_report(wh, run_id=run_id, low_confidence=low_confidence)
    if store is not None:
        from clova_etl.pipeline.ledger import Ledger
        from clova_etl.pipeline.storage import Storage

        data.billing = Ledger(Storage.open(store)).bill(run_id=run_id)["totals"]
    if out is not None:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(render_html(data, inspect_href=inspect_href), encoding="utf-8")
        tmp.replace(path)
    return data
