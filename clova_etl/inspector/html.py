"""The inspector's HTML: one page per document (page images with the OCR result drawn over
them, and a side panel per page), and an index page listing the documents.

Every value from the warehouse goes through :func:`html.escape`; the page loads nothing but its
own images (relative files beside it) and carries no credentials.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Sequence

from clova_etl import __version__
from clova_etl.inspector.model import Box, Cell, Document, Field, Page, Table, page_file
from clova_etl.inspector.static import CONFIDENCE_BANDS, CSS, SCRIPT

__all__ = ["confidence_class", "render_document", "render_index"]

_CSP = (
    "default-src 'none'; img-src 'self' data: file:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'"
)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _conf(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def confidence_class(value: float | None, low: float) -> str:
    """The colour band of a confidence: ``c0`` (below ``low``) … ``c3``, ``cn`` without one."""
    if value is None:
        return "cn"
    if value < low:
        return "c0"
    for name, bound, _ in CONFIDENCE_BANDS:
        if value >= bound:
            return name
    return "c1"


def _head(title: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
    )


def _foot() -> str:
    return (
        f"<footer>clova-etl {_e(__version__)} · <code>clova-etl inspect</code></footer>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )


# --- the drawing ---------------------------------------------------------------------------


def _extent(page: Page) -> tuple[float, float]:
    """The page's coordinate space: the converted size, else what the boxes reach."""
    if page.width and page.height:
        return float(page.width), float(page.height)
    boxes = [f.box for f in page.fields if f.box] + [t.box for t in page.tables if t.box]
    if page.title and page.title.box:
        boxes.append(page.title.box)
    width = max((b.x_max for b in boxes), default=1000.0) * 1.05
    height = max((b.y_max for b in boxes), default=1400.0) * 1.05
    return width, height


def _field_id(page: Page, f: Field) -> str:
    return f"{page.anchor}-f{f.index}"


def _cell_id(page: Page, t: Table, c: Cell) -> str:
    return f"{page.anchor}-t{t.index}c{c.index}"


def _shape(box: Box, cls: str, ident: str, title: str) -> str:
    return (
        f'<polygon id="{_e(ident)}" data-f="{_e(ident)}" class="{cls}" points="{box.points()}" '
        f'vector-effect="non-scaling-stroke"><title>{_e(title)}</title></polygon>'
    )


def _field_title(f: Field) -> str:
    head = f"{f.name}: " if f.name else ""
    checked = "" if f.checked is None else (" [checked]" if f.checked else " [unchecked]")
    return f"{head}{f.text}{checked} (confidence {_conf(f.confidence)})"


def _svg(page: Page, low: float, image_size: tuple[float, float]) -> str:
    width, height = image_size
    font = max(12.0, height / 70)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'role="img" aria-label="page {page.source_page} with its OCR boxes">',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#fff"/>',
    ]
    if page.image:
        parts.append(
            f'<image href="{_e(page.image)}" x="0" y="0" width="{width:.0f}" '
            f'height="{height:.0f}" preserveAspectRatio="none"/>'
        )
    for table in page.tables:
        if table.box:
            parts.append(
                f'<polygon class="tbl" points="{table.box.points()}" '
                f'vector-effect="non-scaling-stroke"><title>table {table.index + 1}: '
                f"{table.rows}&times;{table.columns}</title></polygon>"
            )
        for cell in table.cells:
            if cell.box is None:
                continue
            spans = cell.row_span > 1 or cell.column_span > 1
            title = (
                f"table {table.index + 1} row {cell.row + 1} column {cell.column + 1}"
                + (f" (spans {cell.row_span} rows, {cell.column_span} cols)" if spans else "")
                + f": {cell.text}"
            )
            cls = "cell span" if spans else "cell"
            parts.append(_shape(cell.box, cls, _cell_id(page, table, cell), title))
    labels: list[str] = []
    fields = ([page.title] if page.title else []) + page.fields
    for f in fields:
        if f.box is None:
            continue
        cls = f"fld {confidence_class(f.confidence, low)}"
        parts.append(_shape(f.box, cls, _field_id(page, f), _field_title(f)))
        for k, sub in enumerate(page.subfields.get(f.index, [])):
            if sub.box is not None:
                # A part selects its field when clicked (data-f names the field).
                parts.append(
                    f'<polygon class="sub" data-f="{_e(_field_id(page, f))}" '
                    f'points="{sub.box.points()}" '
                    f'vector-effect="non-scaling-stroke"><title>{_e(f.name or "field")} part '
                    f"{k + 1}: {_e(sub.text)} (confidence {_conf(sub.confidence)})"
                    "</title></polygon>"
                )
        b = f.box
        if f.line_break:
            size = max(8.0, (b.y_max - b.y_min) * 0.8)
            labels.append(
                f'<text class="lb" x="{b.x_max + 2:.1f}" y="{b.y_max - 1:.1f}" '
                f'font-size="{size:.1f}">⏎</text>'
            )
        if f.type == "CHECKBOX" and f.checked:
            labels.append(
                f'<path class="tick" vector-effect="non-scaling-stroke" d="M{b.x_min:.1f} '
                f"{(b.y_min + b.y_max) / 2:.1f} L{(b.x_min + b.x_max) / 2:.1f} {b.y_max:.1f} "
                f'L{b.x_max:.1f} {b.y_min:.1f}"/>'
            )
        if f.name:
            mark = "" if f.checked is None else ("☑ " if f.checked else "☐ ")
            value = f.text if len(f.text) <= 40 else f.text[:39] + "…"
            text = f"{mark}{f.name}" + (f": {value}" if value else "")
            labels.append(
                f'<text class="lbl" x="{b.x_min:.1f}" y="{max(font, b.y_min - 4):.1f}" '
                f'font-size="{font:.1f}">{_e(text)}</text>'
            )
    parts.extend(labels)
    parts.append("</svg>")
    return "".join(parts)


# --- the side panel ------------------------------------------------------------------------


def _legend(page: Page, low: float) -> str:
    counts: dict[str, int] = defaultdict(int)
    for f in page.fields:
        counts[confidence_class(f.confidence, low)] += 1
    spans = []
    upper = 1.0
    for name, bound, colour in CONFIDENCE_BANDS:
        lower = bound if name != "c0" else 0.0
        if name == "c1":
            lower = low
        label = f"&lt; {low:g}" if name == "c0" else f"{lower:g}&ndash;{upper:g}"
        spans.append(
            f'<span><i style="border-color:{colour};background:{colour}33"></i>'
            f"{label} ({counts[name]})</span>"
        )
        upper = lower
    if counts["cn"]:
        spans.append(f'<span><i style="border-color:#667085"></i>none ({counts["cn"]})</span>')
    spans.append('<span><i style="border-color:#2e90fa"></i>table cell</span>')
    return f'<div class="legend">{"".join(spans)}</div>'


def _reading_order(page: Page, low: float) -> str:
    lines: dict[int, list[Field]] = defaultdict(list)
    for f in page.fields:
        lines[f.line_number or 1].append(f)
    if not lines:
        return '<p class="meta">No text was read on this page.</p>'
    out = []
    for number in sorted(lines):
        words = " ".join(
            f'<a href="#{_e(_field_id(page, f))}" data-f="{_e(_field_id(page, f))}"'
            + (' class="low"' if confidence_class(f.confidence, low) == "c0" else "")
            + f">{_e(f.text)}</a>"
            for f in sorted(lines[number], key=lambda f: f.index)
        )
        out.append(f"<p>{words}</p>")
    return f'<div class="text">{"".join(out)}</div>'


def _field_list(page: Page, low: float) -> str:
    fields = ([page.title] if page.title else []) + page.fields
    if not fields:
        return ""
    items = []
    for f in fields:
        ident = _field_id(page, f)
        cls = "low" if confidence_class(f.confidence, low) == "c0" else ""
        mark = "" if f.checked is None else ("☑ " if f.checked else "☐ ")
        label = f"<b>{_e(f.name)}</b> " if f.name else ""
        items.append(
            f'<li class="{cls}"><a href="#{_e(ident)}" data-f="{_e(ident)}">'
            f"<span>{label}{_e(mark)}{_e(f.text)}</span>"
            f'<span class="conf">{_conf(f.confidence)}</span></a></li>'
        )
    return f'<h3>Fields ({len(fields)})</h3><ol class="fields">{"".join(items)}</ol>'


def _grids(page: Page) -> str:
    out = []
    for table in page.tables:
        at = {(c.row, c.column): c for c in table.cells}
        covered: set[tuple[int, int]] = set()
        rows = []
        for r in range(table.rows):
            tds = []
            for c in range(table.columns):
                if (r, c) in covered:
                    continue
                cell = at.get((r, c))
                if cell is None:
                    tds.append("<td></td>")
                    continue
                for dr in range(cell.row_span):
                    for dc in range(cell.column_span):
                        covered.add((r + dr, c + dc))
                ident = _cell_id(page, table, cell)
                span = (f' rowspan="{cell.row_span}"' if cell.row_span > 1 else "") + (
                    f' colspan="{cell.column_span}"' if cell.column_span > 1 else ""
                )
                text = _e(cell.text).replace("\n", "<br>")
                tds.append(f'<td{span}><a href="#{_e(ident)}" data-f="{_e(ident)}">{text}</a></td>')
            rows.append(f"<tr>{''.join(tds)}</tr>")
        out.append(
            f"<h3>Table {table.index + 1} ({table.rows}&times;{table.columns}, "
            f"confidence {_conf(table.confidence)})</h3>"
            f'<table class="grid">{"".join(rows)}</table>'
        )
    return "".join(out)


def _page(page: Page, low: float, image_size: tuple[float, float] | None) -> str:
    size = _extent(page) if image_size is None else image_size
    result = page.infer_result or "not read"
    pill = "failed" if page.infer_result is None else result
    meta = [f'<span class="pill {_e(pill)}">{_e(result)}</span>']
    if page.template:
        meta.append(f"template {_e(page.template)}")
    if page.validation:
        meta.append(f"validation {_e(page.validation)}")
    meta.append(f"{len(page.fields)} field(s), {len(page.tables)} table(s)")
    meta.append(f"request <code>{_e(page.request_id)}</code> image {page.image_index}")
    banner = ""
    if result in ("FAILURE", "ERROR"):
        banner = (
            f'<div class="banner"><b>{_e(result)}</b>: {_e(page.message or "no message")}</div>'
        )
    note = f'<div class="note">{_e(page.image_note)}</div>' if page.image_note else ""
    panel = (
        f"<h3>Legend</h3>{_legend(page, low)}"
        f"<h3>Text in reading order</h3>{_reading_order(page, low)}"
        f"{_grids(page)}{_field_list(page, low)}"
    )
    return (
        f'<section class="page" id="{_e(page.anchor)}">'
        f'<h2>Page {page.source_page}</h2><p class="meta">{" · ".join(meta)}</p>'
        f"{banner}{note}"
        f'<div class="cols"><div class="canvas">{_svg(page, low, size)}</div>'
        f'<aside class="panel">{panel}</aside></div></section>'
    )


def render_document(
    doc: Document,
    *,
    low: float = 0.5,
    sizes: dict[str, tuple[float, float]] | None = None,
    index_link: bool = False,
) -> str:
    """The document's inspector page; ``sizes`` maps a page anchor to its drawing size."""
    sizes = sizes or {}
    requests = "".join(
        f"<li><code>{_e(r.request_id)}</code> {_e(r.api)} "
        f'<span class="pill {_e(r.status)}">{_e(r.status)}</span>'
        + (f" pages {r.page_start}&ndash;{r.page_end}" if r.page_start else "")
        + (f" · {_e(r.error_code)}: {_e(r.error_message)}" if r.status != "succeeded" else "")
        + (f" · run {_e(r.run_id)}" if r.run_id else "")
        + "</li>"
        for r in doc.requests
    )
    failed = [r for r in doc.requests if r.status != "succeeded"]
    banner = "".join(
        f'<div class="banner"><b>{_e(r.status)}</b> {_e(r.error_code)}: '
        f"{_e(r.error_message or 'no message')}</div>"
        for r in failed
    )
    back = '<p class="meta"><a href="index.html">← all documents</a></p>' if index_link else ""
    pages = "".join(_page(p, low, sizes.get(p.anchor)) for p in doc.pages)
    if not doc.pages:
        pages = '<section class="page"><p class="meta">No page was read.</p></section>'
    return (
        _head(f"clova-etl inspect: {doc.source_uri}")
        + f"<header>{back}<h1>{_e(doc.source_uri)}</h1>"
        f'<p class="meta">Boxes are coloured by confidence (below {low:g} in red); hover a box '
        "for its text, click it or a word in the side panel to select both.</p>"
        f'<ul class="meta">{requests}</ul>{banner}</header>' + pages + _foot()
    )


def render_index(docs: Sequence[Document], *, title: str, low: float = 0.5) -> str:
    """A list of the documents, each linked to its page."""
    rows = []
    for d in docs:
        confs = [f.confidence for p in d.pages for f in p.fields if f.confidence is not None]
        mean = f"{sum(confs) / len(confs):.3f}" if confs else "-"
        below = sum(1 for c in confs if c < low)
        tables = sum(len(p.tables) for p in d.pages)
        problems = sum(1 for p in d.pages if p.infer_result in ("FAILURE", "ERROR"))
        rows.append(
            f'<tr><td><a href="{_e(page_file(d.source_uri))}">{_e(d.source_uri)}</a></td>'
            f'<td><span class="pill {_e(d.status)}">{_e(d.status)}</span></td>'
            f'<td class="n">{len(d.pages)}</td><td class="n">{problems}</td>'
            f'<td class="n">{sum(len(p.fields) for p in d.pages)}</td>'
            f'<td class="n">{mean}</td><td class="n">{below}</td><td class="n">{tables}</td></tr>'
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "document",
            "status",
            "pages",
            "FAILURE/ERROR pages",
            "fields",
            "mean confidence",
            f"below {low:g}",
            "tables",
        )
    )
    return (
        _head(f"clova-etl inspect: {title}") + f"<header><h1>clova-etl inspect: {_e(title)}</h1>"
        f'<p class="meta">{len(docs)} document(s)</p></header>'
        f'<table class="list"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        + _foot()
    )
