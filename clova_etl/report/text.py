"""The report's essentials as plain text, for terminals (``clova-etl demo``, ``report --text``)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from clova_etl.report.data import CONFIDENCE_BINS, ReportData

__all__ = ["display_width", "format_rows", "render_text"]


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cut(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text
    out = ""
    for ch in text:
        if display_width(out + ch) > width - 1:
            break
        out += ch
    return out + "…"


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def format_rows(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, max_width: int = 48
) -> str:
    """A left-aligned text table; newlines in values shown as ``⏎``, None as empty."""
    cells = [
        [_cut(("" if v is None else str(v)).replace("\n", " ⏎ "), max_width) for v in row]
        for row in rows
    ]
    widths = [display_width(h) for h in headers]
    for row in cells:
        widths = [max(w, display_width(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def _statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"


def _reason(status: str, uri: str, code: str | None, message: str | None) -> str:
    if code or message:
        return f"{status} {uri}: {code or '-'}: {message or '-'}"
    if status == "pending":
        return f"pending {uri} (not finished yet: the next run takes it)"
    return f"{status} {uri}"


def render_text(data: ReportData, *, indent: str = "  ") -> str:
    """Counts, failures with reasons, confidence, slowest call and checks; items indented."""
    documents = f"documents: {data.documents} ({_statuses(data.objects_by_status)})"
    if not data.documents and data.request_documents:
        documents = (
            f"documents: {data.request_documents} in the requests (etl_objects is empty: "
            "the Parquet loaded here carried no object states)"
        )
    lines: list[tuple[int, str]] = [
        (0, documents),
        (
            0,
            f"OCR requests: {data.requests} ({_statuses(data.requests_by_status)}); "
            f"billed {data.billable_calls} call(s) / {data.billable_pages} page(s)",
        ),
        (0, "rows: " + ", ".join(f"{n} {label}" for label, n in data.rows.items())),
    ]
    if data.billing is not None:
        b = data.billing
        lines.append(
            (
                0,
                f"bill (ledger of charges): {b['calls']} call(s) / {b['pages']} page(s): "
                f"{b['answered_calls']} answered, {b['possibly_billed_calls']} possibly billed, "
                f"{b['resent_calls']} re-sent",
            )
        )
    total = sum(data.confidence_bins)
    if total:
        low = sum(
            n
            for i, n in enumerate(data.confidence_bins)
            if i / CONFIDENCE_BINS < data.low_confidence
        )
        mean = data.confidence_mean if data.confidence_mean is not None else 0.0
        lines.append(
            (0, f"field confidence: mean {mean:.3f}; {low} of {total} below {data.low_confidence}")
        )
    if data.slowest:
        s = data.slowest[0]
        lines.append(
            (
                0,
                f"slowest call: {s.duration_ms} ms ({s.pages} page(s), {s.attempts} attempt(s)) "
                f"{s.source_uri}",
            )
        )
    if data.checks:
        passed = sum(1 for c in data.checks if c.status == "pass")
        lines.append(
            (
                0,
                f"checks of the latest load: {passed} pass, {len(data.warned_checks)} warn, "
                f"{len(data.failed_checks)} fail",
            )
        )
        for c in data.failed_checks + data.warned_checks:
            keys = f", e.g. {'; '.join(c.samples)}" if c.samples else ""
            lines.append((1, f"{c.status.upper()} {c.name}: {c.failing_rows} row(s){keys}"))
    objects = [f for f in data.failures if f.kind == "object"]
    if objects:
        lines.append((0, "not loaded, with the reason:"))
        lines += [
            (1, _reason(f.status, f.source_uri, f.error_code, f.error_message)) for f in objects
        ]
    else:
        lines.append((0, "not loaded: none"))
    return "\n".join(indent + "  " * level + text for level, text in lines)
