"""Valid rows for every table, built straight from the schema declaration, written as Parquet.

The warehouse tests do not depend on the flattener: a :class:`BatchBuilder` makes requests with
pages, fields, subfields, tables, cells and words whose keys, parents, boxes and spans are
consistent, and tests then break exactly what they mean to break.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from clova_etl import schema as declared
from clova_etl.identity import request_id as make_request_id

T0 = datetime(2025, 1, 1, tzinfo=UTC)
SQUARE = [0.0, 0.0, 10.0, 0.0, 10.0, 10.0, 0.0, 10.0]
PARSER = declared.PARSER_VERSION


def rid(n: int) -> str:
    """A deterministic request_id for test request number ``n``."""
    return make_request_id(source_sha256=f"{n:064x}", api="general", version="V2")


def box(
    x: float = 0.0, y: float = 0.0, w: float = 10.0, h: float = 10.0, prefix: str = ""
) -> dict[str, Any]:
    """Polygon and axis-aligned box columns of a ``w`` x ``h`` rectangle at ``(x, y)``."""
    return {
        f"{prefix}polygon": [x, y, x + w, y, x + w, y + h, x, y + h],
        f"{prefix}x_min": x,
        f"{prefix}y_min": y,
        f"{prefix}x_max": x + w,
        f"{prefix}y_max": y + h,
    }


class BatchBuilder:
    """Rows per table, written as ``DIR/<table>/part-<n>.parquet`` with the declared schemas."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {
            name: [] for name in [*declared.TABLES, declared.ETL_OBJECTS.name]
        }

    def add(self, table: str, **values: Any) -> dict[str, Any]:
        """Append one row (columns not given are null) and return it for further edits."""
        known = set(_table(table).column_names)
        unknown = set(values) - known
        assert not unknown, f"{table} has no column(s) {unknown}"
        row = dict.fromkeys(known) | values
        if "parser_version" in known and row["parser_version"] is None:
            row["parser_version"] = PARSER
        self.rows[table].append(row)
        return row

    def request(
        self,
        request_id: str,
        *,
        source_uri: str | None = None,
        sha: str | None = None,
        api: str = "general",
        status: str = "succeeded",
        pages: int = 1,
        fields: int = 3,
        words_per_line: int = 2,
        subfields: int = 0,
        tables: int = 0,
        grid: tuple[int, int] = (2, 2),
        completed_at: datetime = T0,
        page_start: int = 1,
        confidence: float = 0.9,
        **overrides: Any,
    ) -> dict[str, Any]:
        """A request with ``pages`` pages of ``fields`` fields each (and subfields, tables)."""
        ok = status == "succeeded"
        row = self.add(
            "ocr_requests",
            request_id=request_id,
            source_uri=source_uri or f"s3://bucket/inbox/{request_id[:8]}.pdf",
            source_sha256=sha or request_id.replace("-", "").ljust(64, "0"),
            source_size_bytes=1234,
            source_format="pdf",
            api=api,
            version="V2",
            enable_table_detection=tables > 0,
            page_start=page_start,
            page_end=page_start + pages - 1,
            pages_sent=pages,
            pages_returned=pages if ok else None,
            status=status,
            error_code=None if ok else "0011",
            error_message=None if ok else "Request invalid",
            http_status=200 if ok else 400,
            attempts=1,
            billable=ok,
            billable_pages=pages if ok else 0,
            requested_at=completed_at - timedelta(seconds=1),
            completed_at=completed_at,
            duration_ms=1000,
            run_id="run-1",
        )
        row.update(overrides)
        if not ok:
            return row
        for image in range(pages):
            self.page(
                request_id,
                image,
                page_start + image,
                fields,
                words_per_line,
                subfields,
                tables,
                grid,
                confidence,
                api,
            )
        return row

    def page(
        self,
        request_id: str,
        image: int,
        source_page: int,
        fields: int,
        words_per_line: int,
        subfields: int,
        tables: int,
        grid: tuple[int, int],
        confidence: float,
        api: str,
    ) -> None:
        """One ``images[]`` entry with its fields, subfields and tables."""
        self.add(
            "ocr_images",
            request_id=request_id,
            image_index=image,
            source_page=source_page,
            uid=f"uid-{image}",
            name="demo",
            infer_result="SUCCESS",
            message="SUCCESS",
            validation_result="NO_REQUESTED",
            converted_width=100,
            converted_height=100,
            page_index=image,
            field_count=fields,
            table_count=tables,
            matched_template_id=7 if api == "template" else None,
            matched_template_name="invoice" if api == "template" else None,
        )
        for f in range(fields):
            line = f // words_per_line + 1
            self.add(
                "ocr_fields",
                request_id=request_id,
                image_index=image,
                field_index=f,
                name=f"field{f}" if api == "template" else None,
                value_type="ALL",
                infer_text=f"w{image}.{f}",
                infer_confidence=confidence,
                type="NORMAL",
                line_break=(f + 1) % words_per_line == 0 or f == fields - 1,
                line_number=None if api == "template" else line,
                subfield_count=subfields,
                **box(10.0 * f, 10.0 * line),
            )
            for s in range(subfields):
                self.add(
                    "ocr_subfields",
                    request_id=request_id,
                    image_index=image,
                    field_index=f,
                    subfield_index=s,
                    infer_text=f"s{f}.{s}",
                    infer_confidence=confidence,
                    line_break=s == subfields - 1,
                    **box(10.0 * s, 10.0),
                )
        rows, cols = grid
        for t in range(tables):
            self.add(
                "ocr_tables",
                request_id=request_id,
                image_index=image,
                table_index=t,
                infer_confidence=confidence,
                row_count=rows,
                column_count=cols,
                cell_count=rows * cols,
                **box(0, 0, 10.0 * cols, 10.0 * rows),
            )
            for r in range(rows):
                for c in range(cols):
                    cell = r * cols + c
                    self.add(
                        "ocr_table_cells",
                        request_id=request_id,
                        image_index=image,
                        table_index=t,
                        cell_index=cell,
                        row_index=r,
                        column_index=c,
                        row_span=1,
                        column_span=1,
                        infer_confidence=confidence,
                        cell_text=f"r{r}c{c}",
                        line_count=1,
                        **box(10.0 * c, 10.0 * r),
                    )
                    self.add(
                        "ocr_cell_words",
                        request_id=request_id,
                        image_index=image,
                        table_index=t,
                        cell_index=cell,
                        line_index=0,
                        word_index=0,
                        infer_text=f"r{r}c{c}",
                        infer_confidence=confidence,
                        line_infer_confidence=confidence,
                        **box(10.0 * c, 10.0 * r),
                    )

    def obj(self, uri: str, sha: str, status: str = "loaded", **values: Any) -> dict[str, Any]:
        """One etl_objects row."""
        values.setdefault("updated_at", T0)
        values.setdefault("discovered_at", T0)
        return self.add("etl_objects", source_uri=uri, source_sha256=sha, status=status, **values)

    def where(self, table: str, **match: Any) -> list[dict[str, Any]]:
        """The rows of ``table`` whose columns equal ``match`` (to edit them in place)."""
        return [r for r in self.rows[table] if all(r[k] == v for k, v in match.items())]

    def write(
        self, root: Path, *, files_per_table: int = 1, tables: Iterable[str] | None = None
    ) -> Path:
        """Write every non-empty table as ``files_per_table`` Parquet files under ``root``."""
        for name in tables or self.rows:
            rows = self.rows[name]
            if not rows:
                continue
            folder = root / name
            folder.mkdir(parents=True, exist_ok=True)
            schema = _table(name).arrow_schema
            size = -(-len(rows) // files_per_table)
            for part, start in enumerate(range(0, len(rows), size)):
                data = pa.Table.from_pylist(rows[start : start + size], schema=_lenient(schema))
                pq.write_table(data, folder / f"part-{part}.parquet")
        return root


def _table(name: str) -> declared.Table:
    return declared.TABLES.get(name) or declared.ETL_OBJECTS


def _lenient(schema: pa.Schema) -> pa.Schema:
    # Nullable on disk, so that tests can write the nulls the database must refuse.
    return pa.schema([f.with_nullable(True) for f in schema])
