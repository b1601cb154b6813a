"""The report as one static HTML page: inline CSS, inline SVG, no script, nothing fetched.

Every value from the warehouse goes through :func:`html.escape` (file names and OCR text are
user data).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime

from clova_etl import __version__
from clova_etl.inspector.model import page_file
from clova_etl.report.data import CONFIDENCE_BINS, ReportData

__all__ = ["confidence_svg", "render_html"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans KR",sans-serif;
margin:0;color:#1d2330;background:#f4f6f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.meta{color:#5b6475;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid #dfe3ea;border-radius:8px;padding:10px 14px;min-width:110px}
.card b{display:block;font-size:22px}.card span{color:#5b6475;font-size:12px}
.card.bad b{color:#b42318}.card.warn b{color:#b54708}.card.good b{color:#067647}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dfe3ea}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceff3;vertical-align:top}
th{background:#f0f2f6;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.uri{word-break:break-all}.msg{color:#3b4352}
.pill{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}
.pass,.succeeded,.loaded{background:#dcfae6;color:#067647}
.warn,.pending,.skipped{background:#fef0c7;color:#93370d}
.fail,.failed,.rejected{background:#fee4e2;color:#b42318}
.empty{color:#5b6475;font-style:italic}
svg text{font:11px system-ui,sans-serif;fill:#3b4352}
footer{color:#5b6475;margin-top:32px;font-size:12px}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _source(uri: str, inspect_href: str | None) -> str:
    """The source URI, linked to its inspector page when the inspector was written."""
    text = f'<span class="uri">{_e(uri)}</span>'
    if not inspect_href or not uri:
        return text
    href = f"{inspect_href.rstrip('/')}/{page_file(uri)}"
    return f'<a href="{_e(href)}" title="open in the inspector">{text}</a>'


def _pill(status: str) -> str:
    return f'<span class="pill {_e(status)}">{_e(status)}</span>'


def _when(value: datetime | None) -> str:
    return _e(value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "")


def _num(value: int | float | None) -> str:
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) else f"{value:,.3f}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """Rows must already be escaped HTML."""
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _card(label: str, value: int | str, tone: str = "") -> str:
    shown = f"{value:,}" if isinstance(value, int) else value
    return f'<div class="card {tone}"><b>{_e(shown)}</b><span>{_e(label)}</span></div>'


def confidence_svg(bins: Sequence[int], *, low: float = 0.5) -> str:
    """A bar chart of field counts per tenth of confidence (bars under ``low`` in red)."""
    width, height, left, bottom, top = 560, 190, 44, 30, 12
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max(bins) if bins and max(bins) > 0 else 1
    bar_w = plot_w / max(len(bins), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        'aria-label="Field confidence distribution">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        'stroke="#98a2b3"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak:,}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for i, count in enumerate(bins):
        lo = i / len(bins)
        h = plot_h * count / peak
        x = left + i * bar_w + 2
        colour = "#d92d20" if lo < low else "#2e90fa"
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 4:.1f}" '
            f'height="{h:.1f}" fill="{colour}"><title>{lo:.1f} to {lo + 1 / len(bins):.1f}: '
            f"{count:,} field(s)</title></rect>"
        )
        if count:
            parts.append(
                f'<text x="{x + (bar_w - 4) / 2:.1f}" y="{top + plot_h - h - 3:.1f}" '
                f'text-anchor="middle">{count:,}</text>'
            )
        parts.append(
            f'<text x="{left + i * bar_w + bar_w / 2:.1f}" y="{height - 12}" '
            f'text-anchor="middle">{lo:.1f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _counts(data: ReportData) -> str:
    failed_objects = sum(
        n for s, n in data.objects_by_status.items() if s in {"failed", "rejected"}
    )
    pending = data.objects_by_status.get("pending", 0)
    cards = [
        _card("documents", data.documents or data.request_documents),
        _card("loaded", data.objects_by_status.get("loaded", 0), "good"),
        _card("failed / rejected", failed_objects, "bad" if failed_objects else ""),
        _card("pending", pending, "warn" if pending else ""),
        _card("OCR requests", data.requests),
        _card("billable calls", data.billable_calls),
        _card("billable pages", data.billable_pages),
    ]
    if data.billing is not None:
        b = data.billing
        resent, lost = b["resent_calls"], b["possibly_billed_calls"]
        cards += [
            _card("billed calls (ledger)", b["calls"]),
            _card("answered", b["answered_calls"], "good"),
            _card("possibly billed", lost, "warn" if lost else ""),
            _card("re-sent", resent, "warn" if resent else ""),
        ]
    cards += [_card(label, n) for label, n in data.rows.items()]
    return f'<div class="cards">{"".join(cards)}</div>'


def _failures(data: ReportData, inspect_href: str | None) -> str:
    if not data.failures:
        return '<p class="empty">No failed, rejected or pending requests or objects.</p>'
    rows = [
        (
            _e(f.kind),
            _source(f.source_uri, inspect_href if f.kind == "request" else None),
            _pill(f.status),
            _e(f.error_code),
            f'<span class="msg">{_e(f.error_message)}</span>',
            _e(f.attempts),
            _when(f.at),
        )
        for f in data.failures
    ]
    shown = len(data.failures)
    note = (
        f'<p class="meta">Showing {shown:,} of {data.failure_count:,}.</p>'
        if shown < data.failure_count
        else ""
    )
    table = _table(
        ["what", "source", "status", "code", "reason", "attempts", "when (UTC)"], rows, {5}
    )
    return note + table


def _confidence(data: ReportData, inspect_href: str | None) -> str:
    total = sum(data.confidence_bins)
    if not total:
        return '<p class="empty">No field has a confidence yet.</p>'
    low = sum(
        n for i, n in enumerate(data.confidence_bins) if i / CONFIDENCE_BINS < data.low_confidence
    )
    mean = f"{data.confidence_mean:.3f}" if data.confidence_mean is not None else "-"
    summary = (
        f'<p class="meta">{total:,} field(s) with a confidence, mean {_e(mean)}; '
        f"{low:,} below {_e(data.low_confidence)} (red); {data.confidence_null:,} without one.</p>"
    )
    rows = [
        (
            _source(r.source_uri, inspect_href),
            _num(r.fields),
            _e(f"{r.mean_confidence:.3f}" if r.mean_confidence is not None else ""),
            _num(r.low_fields),
        )
        for r in data.least_confident
    ]
    docs = _table(
        ["document (least confident first)", "fields", "mean confidence", "fields below"],
        rows,
        {1, 2, 3},
    )
    return summary + confidence_svg(data.confidence_bins, low=data.low_confidence) + docs


def _slowest(data: ReportData, inspect_href: str | None) -> str:
    if not data.slowest:
        return '<p class="empty">No timed OCR call.</p>'
    rows = [
        (
            _source(s.source_uri, inspect_href),
            _e(s.api),
            _num(s.pages),
            _num(s.attempts),
            _num(s.duration_ms),
            _pill(s.status),
            _e(s.request_id),
        )
        for s in data.slowest
    ]
    return _table(
        ["document", "api", "pages", "attempts", "ms", "status", "request_id"], rows, {2, 3, 4}
    )


def _checks(data: ReportData) -> str:
    if not data.checks:
        return '<p class="empty">No check has run.</p>'
    rows = [
        (
            _e(c.name),
            _e(c.severity),
            _pill(c.status),
            _num(c.failing_rows),
            "<br>".join(f'<span class="msg">{_e(k)}</span>' for k in c.samples),
            _e(c.description),
        )
        for c in data.checks
    ]
    head = f'<p class="meta">Check run {_e(data.checks_of)}.</p>'
    return head + _table(
        ["check", "severity", "status", "offending rows", "sample keys", "asserts"], rows, {3}
    )


def _loads(data: ReportData) -> str:
    if not data.loads:
        return '<p class="empty">No load recorded.</p>'
    rows = [
        (
            _when(ld.started_at),
            _e(ld.run_id),
            _pill(ld.status),
            _num(ld.request_count),
            _num(ld.total_rows),
            _num(ld.duration_ms),
            f'<span class="msg">{_e(ld.error_message)}</span>',
        )
        for ld in data.loads
    ]
    return _table(
        ["started (UTC)", "run", "status", "requests", "rows", "ms", "error"], rows, {3, 4, 5}
    )


def render_html(data: ReportData, *, inspect_href: str | None = None) -> str:
    """The whole page; ``inspect_href`` (the inspector's folder, relative to the report) links
    each document to its inspector page."""
    scope = f"run {data.run_id}" if data.run_id else "the whole warehouse"
    failed = data.failed_checks
    verdict = (
        f"{len(failed)} blocking check(s) failed"
        if failed
        else f"checks pass ({len(data.warned_checks)} warning(s))"
        if data.checks
        else "no checks yet"
    )
    sections = [
        ("Counts", _counts(data)),
        ("Failures and their reasons", _failures(data, inspect_href)),
        ("Field confidence", _confidence(data, inspect_href)),
        ("Slowest documents (OCR call time, retries included)", _slowest(data, inspect_href)),
        ("Checks of the latest load", _checks(data)),
        ("Recent loads", _loads(data)),
    ]
    body = "".join(
        f"<section><h2>{_e(title)}</h2>{content}</section>" for title, content in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>clova-etl report: {_e(scope)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>clova-etl report</h1>"
        f'<p class="meta">{_e(scope)} · warehouse {_e(data.warehouse)} schema '
        f"{_e(data.schema)} · {_e(verdict)} · generated {_when(data.generated_at)} UTC</p>"
        f"{body}"
        f"<footer>clova-etl {_e(__version__)} · <code>clova-etl report</code></footer>"
        "</main></body></html>\n"
    )
