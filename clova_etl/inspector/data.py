"""Read the documents the inspector shows from any clova-etl warehouse (DuckDB, PostgreSQL).

A selection names requests (one request id, a run, a source object, or everything); each
source object becomes one :class:`Document` with the pages of its chosen requests. For a source
object or the whole warehouse the current results are shown (``current_results``), or the
latest request when none succeeded, so that a failed document still shows its reason.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clova_etl.inspector.model import Box, Cell, Document, Field, Page, Request, Table
from clova_etl.warehouse.ddl import qualified
from clova_etl.warehouse.uri import quote_literal

if TYPE_CHECKING:
    from clova_etl.warehouse import Warehouse

__all__ = ["NothingToInspectError", "Selection", "load_documents"]


class NothingToInspectError(LookupError):
    """The selection matches no request in the warehouse."""


@dataclass(frozen=True)
class Selection:
    """Which requests to show: exactly one of the three, or none for the whole warehouse."""

    request_id: str | None = None
    source_uri: str | None = None
    run_id: str | None = None

    def describe(self) -> str:
        """Human words for the selection."""
        if self.request_id:
            return f"request {self.request_id}"
        if self.source_uri:
            return f"document {self.source_uri}"
        if self.run_id:
            return f"run {self.run_id}"
        return "the whole warehouse"


def _rows(wh: Warehouse, sql: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = wh.query(sql).to_pylist()
    return rows


def _box(row: dict[str, Any], prefix: str = "") -> Box | None:
    values = [row.get(f"{prefix}{k}") for k in ("x_min", "y_min", "x_max", "y_max")]
    if any(v is None for v in values):
        return None
    polygon = tuple(float(v) for v in (row.get(f"{prefix}polygon") or ()))
    x0, y0, x1, y1 = (float(v) for v in values)  # type: ignore[arg-type]
    return Box(x0, y0, x1, y1, polygon)


def _in(ids: list[str]) -> str:
    return ", ".join(quote_literal(i) for i in ids)


def _select_requests(wh: Warehouse, selection: Selection) -> list[dict[str, Any]]:
    def t(name: str) -> str:
        return qualified(wh.schema, name)

    columns = (
        "r.request_id, r.source_uri, r.api, r.status, r.error_code, r.error_message, "
        "r.source_sha256, r.source_format, r.page_start, r.page_end, r.completed_at, "
        "r.requested_at, r.run_id"
    )
    if selection.request_id:
        where = f"r.request_id = {quote_literal(selection.request_id)}"
    elif selection.run_id:
        where = f"r.run_id = {quote_literal(selection.run_id)}"
    elif selection.source_uri:
        where = f"r.source_uri = {quote_literal(selection.source_uri)}"
    else:
        where = "TRUE"
    rows = _rows(
        wh,
        f"SELECT {columns}, (c.request_id IS NOT NULL) AS is_current "
        f"FROM {t('ocr_requests')} AS r "
        f"LEFT JOIN {t('current_results')} AS c ON c.request_id = r.request_id "
        f"WHERE {where} ORDER BY r.source_uri, r.page_start NULLS FIRST, "
        "r.completed_at DESC NULLS LAST, r.requested_at DESC NULLS LAST, r.request_id",
    )
    if selection.request_id or selection.run_id:
        return rows
    # A whole object: its current results, or its latest request when none succeeded.
    chosen: list[dict[str, Any]] = []
    by_uri: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_uri[str(row["source_uri"])].append(row)
    for uri_rows in by_uri.values():
        current = [r for r in uri_rows if r["is_current"]]
        if current:
            chosen.extend(current)
        else:
            latest = max(
                uri_rows,
                key=lambda r: (str(r["completed_at"] or ""), str(r["requested_at"] or "")),
            )
            chosen.append(latest)
    return chosen


def load_documents(wh: Warehouse, selection: Selection) -> list[Document]:
    """The selected documents with their pages, fields and tables, sorted by source URI."""
    requests = _select_requests(wh, selection)
    if not requests:
        raise NothingToInspectError(
            f"no OCR request for {selection.describe()} in schema {wh.schema!r} of {wh.uri}"
        )
    documents: dict[str, Document] = {}
    for row in requests:
        uri = str(row["source_uri"] or "")
        doc = documents.setdefault(uri, Document(uri))
        doc.requests.append(
            Request(
                request_id=str(row["request_id"]),
                api=row["api"],
                status=str(row["status"]),
                error_code=row["error_code"],
                error_message=row["error_message"],
                source_sha256=row["source_sha256"],
                source_format=row["source_format"],
                page_start=row["page_start"],
                page_end=row["page_end"],
                completed_at=str(row["completed_at"]) if row["completed_at"] else None,
                run_id=row["run_id"],
            )
        )
    pages = _pages(wh, [str(r["request_id"]) for r in requests])
    for doc in documents.values():
        for req in doc.requests:
            doc.pages.extend(pages.get(req.request_id, []))
        doc.pages.sort(key=lambda p: (p.source_page, p.request_id, p.image_index))
    return [documents[k] for k in sorted(documents)]


def _pages(wh: Warehouse, request_ids: list[str]) -> dict[str, list[Page]]:
    def t(name: str) -> str:
        return qualified(wh.schema, name)

    pages: dict[tuple[str, int], Page] = {}
    by_request: dict[str, list[Page]] = defaultdict(list)
    # Chunks of ids keep each IN list short on large runs.
    for start in range(0, len(request_ids), 500):
        ids = _in(request_ids[start : start + 500])
        for row in _rows(
            wh,
            "SELECT i.request_id, i.image_index, i.source_page, i.infer_result, i.message, "
            "i.converted_width, i.converted_height, i.matched_template_name, "
            "i.matched_template_id, i.validation_result, i.validation_message, "
            "i.title_name, i.title_infer_text, i.title_infer_confidence, i.title_polygon, "
            "i.title_x_min, i.title_y_min, i.title_x_max, i.title_y_max "
            f"FROM {t('ocr_images')} AS i WHERE i.request_id IN ({ids}) "
            "ORDER BY i.request_id, i.image_index",
        ):
            template = row["matched_template_name"] or (
                str(row["matched_template_id"]) if row["matched_template_id"] else None
            )
            validation = " ".join(
                str(v) for v in (row["validation_result"], row["validation_message"]) if v
            )
            page = Page(
                request_id=str(row["request_id"]),
                image_index=int(row["image_index"]),
                source_page=int(row["source_page"] or row["image_index"] + 1),
                infer_result=row["infer_result"],
                message=row["message"],
                width=row["converted_width"],
                height=row["converted_height"],
                template=template,
                validation=validation or None,
            )
            title_box = _box(row, "title_")
            if row["title_name"] or row["title_infer_text"]:
                page.title = Field(
                    -1,
                    str(row["title_infer_text"] or ""),
                    row["title_infer_confidence"],
                    title_box,
                    name=row["title_name"] or "title",
                )
            pages[(page.request_id, page.image_index)] = page
            by_request[page.request_id].append(page)
        for row in _rows(
            wh,
            "SELECT f.request_id, f.image_index, f.field_index, f.name, f.infer_text, "
            "f.infer_confidence, f.type, f.checked, f.line_break, f.line_number, f.polygon, "
            "f.x_min, f.y_min, f.x_max, f.y_max "
            f"FROM {t('ocr_fields')} AS f WHERE f.request_id IN ({ids}) AND f.field_index >= 0 "
            "ORDER BY f.request_id, f.image_index, f.field_index",
        ):
            owner = pages.get((str(row["request_id"]), int(row["image_index"])))
            if owner is not None:
                owner.fields.append(
                    Field(
                        int(row["field_index"]),
                        str(row["infer_text"] or ""),
                        row["infer_confidence"],
                        _box(row),
                        name=row["name"],
                        type=row["type"],
                        checked=row["checked"],
                        line_break=row["line_break"],
                        line_number=row["line_number"],
                    )
                )
        for row in _rows(
            wh,
            "SELECT s.request_id, s.image_index, s.field_index, s.subfield_index, s.infer_text, "
            "s.infer_confidence, s.line_break, s.polygon, s.x_min, s.y_min, s.x_max, s.y_max "
            f"FROM {t('ocr_subfields')} AS s WHERE s.request_id IN ({ids}) "
            "ORDER BY s.request_id, s.image_index, s.field_index, s.subfield_index",
        ):
            owner = pages.get((str(row["request_id"]), int(row["image_index"])))
            if owner is not None:
                owner.subfields.setdefault(int(row["field_index"]), []).append(
                    Field(
                        int(row["subfield_index"]),
                        str(row["infer_text"] or ""),
                        row["infer_confidence"],
                        _box(row),
                        line_break=row["line_break"],
                    )
                )
        _tables(wh, ids, pages)
    return by_request


def _tables(wh: Warehouse, ids: str, pages: dict[tuple[str, int], Page]) -> None:
    def t(name: str) -> str:
        return qualified(wh.schema, name)

    cells: dict[tuple[str, int, int], list[Cell]] = defaultdict(list)
    for row in _rows(
        wh,
        "SELECT c.request_id, c.image_index, c.table_index, c.cell_index, c.row_index, "
        "c.column_index, c.row_span, c.column_span, c.cell_text, c.infer_confidence, "
        "c.polygon, c.x_min, c.y_min, c.x_max, c.y_max "
        f"FROM {t('ocr_table_cells')} AS c WHERE c.request_id IN ({ids}) "
        "ORDER BY c.request_id, c.image_index, c.table_index, c.cell_index",
    ):
        key = (str(row["request_id"]), int(row["image_index"]), int(row["table_index"]))
        cells[key].append(
            Cell(
                int(row["cell_index"]),
                int(row["row_index"] or 0),
                int(row["column_index"] or 0),
                int(row["row_span"] or 1),
                int(row["column_span"] or 1),
                str(row["cell_text"] or ""),
                row["infer_confidence"],
                _box(row),
            )
        )
    for row in _rows(
        wh,
        "SELECT t.request_id, t.image_index, t.table_index, t.infer_confidence, t.row_count, "
        "t.column_count, t.polygon, t.x_min, t.y_min, t.x_max, t.y_max "
        f"FROM {t('ocr_tables')} AS t WHERE t.request_id IN ({ids}) "
        "ORDER BY t.request_id, t.image_index, t.table_index",
    ):
        key = (str(row["request_id"]), int(row["image_index"]), int(row["table_index"]))
        owner = pages.get(key[:2])
        if owner is not None:
            owner.tables.append(
                Table(
                    key[2],
                    row["infer_confidence"],
                    _box(row),
                    int(row["row_count"] or 0),
                    int(row["column_count"] or 0),
                    tuple(cells.get(key, ())),
                )
            )
