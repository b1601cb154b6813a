"""The analyst views return the expected rows on both engines, and sql/examples.sql runs."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from clova_etl.warehouse import Warehouse
from clova_etl.warehouse.sqlfiles import DEFAULT_SQL_DIR
from clova_etl.warehouse.uri import quote_ident
from tests.warehouse.builder import T0, BatchBuilder, rid


def view(wh: Warehouse, name: str, columns: str, order: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = wh.query(
        f"SELECT {columns} FROM {quote_ident(wh.schema)}.{name} ORDER BY {order}"
    ).to_pylist()
    return found


def test_page_text_joins_words_by_spaces_and_lines_by_breaks(wh: Warehouse, tmp_path: Path) -> None:
    b = BatchBuilder()
    b.request(rid(1), pages=2, fields=5, words_per_line=2, source_uri="s3://b/two-pages.pdf")
    b.request(rid(2), fields=3, source_uri="s3://b/v1.jpg")
    for field in b.where("ocr_fields", request_id=rid(2)):
        field["line_number"] = field["line_break"] = None  # V1: no lineBreak at all
    b.request(rid(3), fields=0, source_uri="s3://b/blank.png")
    b.rows["ocr_fields"].reverse()  # file order must not matter: the key order is reading order
    wh.load(b.write(tmp_path / "b"))

    pages = view(
        wh, "page_text", "source_uri, source_page, line_count, page_text", "source_uri, source_page"
    )

    assert pages == [
        {"source_uri": "s3://b/blank.png", "source_page": 1, "line_count": 0, "page_text": ""},
        {"source_uri": "s3://b/two-pages.pdf", "source_page": 1, "line_count": 3,
         "page_text": "w0.0 w0.1\nw0.2 w0.3\nw0.4"},
        {"source_uri": "s3://b/two-pages.pdf", "source_page": 2, "line_count": 3,
         "page_text": "w1.0 w1.1\nw1.2 w1.3\nw1.4"},
        {"source_uri": "s3://b/v1.jpg", "source_page": 1, "line_count": 1,
         "page_text": "w0.0 w0.1 w0.2"},
    ]  # fmt: skip


def test_template_fields_and_subfields_as_key_value(wh: Warehouse, tmp_path: Path) -> None:
    b = BatchBuilder()
    b.request(rid(1), api="template", fields=2, subfields=2, source_uri="s3://b/form.jpg")
    b.request(rid(2), fields=2, source_uri="s3://b/general.jpg")  # not a template: left out
    b.where("ocr_images", request_id=rid(1))[0]["title_name"] = "Title"
    b.add(
        "ocr_subfields", request_id=rid(1), image_index=0, field_index=-1, subfield_index=0,
        infer_text="INVOICE",
    )  # fmt: skip
    wh.load(b.write(tmp_path / "b"))

    fields = view(
        wh,
        "template_fields",
        "source_uri, matched_template_name, field_index, field_name, value",
        "field_index",
    )
    assert fields == [
        {"source_uri": "s3://b/form.jpg", "matched_template_name": "invoice", "field_index": i,
         "field_name": f"field{i}", "value": f"w0.{i}"}
        for i in range(2)
    ]  # fmt: skip
    subfields = view(
        wh, "template_subfields", "field_index, field_name, subfield_index, value",
        "field_index, subfield_index",
    )  # fmt: skip
    assert subfields == [
        {"field_index": -1, "field_name": "Title", "subfield_index": 0, "value": "INVOICE"},
        {"field_index": 0, "field_name": "field0", "subfield_index": 0, "value": "s0.0"},
        {"field_index": 0, "field_name": "field0", "subfield_index": 1, "value": "s0.1"},
        {"field_index": 1, "field_name": "field1", "subfield_index": 0, "value": "s1.0"},
        {"field_index": 1, "field_name": "field1", "subfield_index": 1, "value": "s1.1"},
    ]


def test_table_grid_gives_row_column_text_and_spans(wh: Warehouse, tmp_path: Path) -> None:
    b = BatchBuilder()
    b.request(rid(1), tables=1, grid=(2, 3), source_uri="s3://b/table.pdf")
    # Merge the first row's first two cells: cell 0 spans two columns, cell 1 disappears.
    cells = b.rows["ocr_table_cells"]
    cells[0].update(column_span=2, cell_text="merged")
    cells.remove(b.where("ocr_table_cells", cell_index=1)[0])
    b.rows["ocr_cell_words"].remove(b.where("ocr_cell_words", cell_index=1)[0])
    wh.load(b.write(tmp_path / "b"))

    grid = view(
        wh,
        "table_grid",
        "row_index, column_index, row_span, column_span, cell_text, row_count, column_count",
        "row_index, column_index",
    )
    keys = ("row_index", "column_index", "row_span", "column_span", "cell_text")
    assert [tuple(g[k] for k in keys) for g in grid] == [
        (0, 0, 1, 2, "merged"),
        (0, 2, 1, 1, "r0c2"),
        (1, 0, 1, 1, "r1c0"),
        (1, 1, 1, 1, "r1c1"),
        (1, 2, 1, 1, "r1c2"),
    ]  # fmt: skip
    assert {(g["row_count"], g["column_count"]) for g in grid} == {(2, 3)}


def test_current_results_pick_the_latest_success_per_object_and_chunk(
    wh: Warehouse, tmp_path: Path
) -> None:
    b = BatchBuilder()
    uri = "s3://b/contract.pdf"
    # Version 1 of the file, read as two page chunks, then a template re-read of chunk 1.
    b.request(rid(1), source_uri=uri, sha="1" * 64, page_start=1, pages=2, completed_at=T0)
    b.request(rid(2), source_uri=uri, sha="1" * 64, page_start=3, pages=1, completed_at=T0)
    b.request(
        rid(3), source_uri=uri, sha="1" * 64, page_start=1, pages=2, api="template",
        completed_at=T0 + timedelta(hours=1),
    )  # fmt: skip
    # A failure later on: the current result stays the latest success.
    b.request(
        rid(4), source_uri=uri, sha="1" * 64, status="failed", completed_at=T0 + timedelta(hours=2)
    )
    # Another object: its old version was replaced by new content (one chunk only now).
    other = "s3://b/receipt.jpg"
    b.request(rid(5), source_uri=other, sha="5" * 64, completed_at=T0)
    b.request(rid(6), source_uri=other, sha="6" * 64, completed_at=T0 + timedelta(days=1))
    b.request(rid(7), source_uri="s3://b/never.jpg", status="failed")
    wh.load(b.write(tmp_path / "b"))

    current = view(
        wh,
        "current_results",
        "source_uri, page_start, request_id, source_sha256",
        "source_uri, page_start",
    )
    assert [(c["source_uri"], c["page_start"], c["request_id"]) for c in current] == [
        (uri, 1, rid(3)),
        (uri, 3, rid(2)),
        (other, 1, rid(6)),
    ]


def test_failed_requests_and_objects_carry_their_reason(wh: Warehouse, tmp_path: Path) -> None:
    b = BatchBuilder()
    b.request(rid(1), source_uri="s3://b/a.jpg", sha="a" * 64, status="failed", completed_at=T0)
    b.request(rid(2), source_uri="s3://b/a.jpg", sha="a" * 64, completed_at=T0 + timedelta(1))
    b.request(rid(3), source_uri="s3://b/b.jpg", status="rejected", error_code="EMPTY_FILE")
    b.obj("s3://b/c.gif", "c" * 64, status="rejected", error_code="UNSUPPORTED_FORMAT",
          error_message="gif is not supported")  # fmt: skip
    b.obj("s3://b/a.jpg", "a" * 64, status="loaded")
    wh.load(b.write(tmp_path / "b"))

    failed = view(
        wh, "failed_requests", "request_id, status, error_code, has_success", "request_id"
    )
    assert sorted(
        (f["request_id"], f["status"], f["error_code"], f["has_success"]) for f in failed
    ) == sorted([(rid(1), "failed", "0011", True), (rid(3), "rejected", "EMPTY_FILE", False)])
    objects = view(
        wh, "failed_objects", "source_uri, status, error_code, error_message", "source_uri"
    )
    assert objects == [
        {"source_uri": "s3://b/c.gif", "status": "rejected", "error_code": "UNSUPPORTED_FORMAT",
         "error_message": "gif is not supported"},
    ]  # fmt: skip


def test_every_example_query_runs(wh: Warehouse, tmp_path: Path) -> None:
    b = BatchBuilder()
    b.request(rid(1), api="template", fields=3, subfields=1, tables=1)
    b.request(rid(2), fields=4, source_uri="s3://bucket/inbox/invoice-0001.pdf")
    b.request(rid(3), status="failed")
    wh.load(b.write(tmp_path / "b"))
    text = (DEFAULT_SQL_DIR / "examples.sql").read_text(encoding="utf-8")
    queries = [q.strip() for q in text.split(";") if q.strip() and not _only_comments(q)]
    assert len(queries) == 13

    results = [wh.query(re.sub(r"\bocr\.", f"{quote_ident(wh.schema)}.", q)) for q in queries]

    assert [r.num_rows for r in results][:3] == [1, 0, 3]
    assert results[0].column("page_text").to_pylist() == ["w0.0 w0.1\nw0.2 w0.3"]


def _only_comments(chunk: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in chunk.splitlines())


def test_query_returns_arrow_with_every_selected_column(wh: Warehouse) -> None:
    wh.ensure_schema()
    table = wh.query("SELECT 1 AS x, 'a' AS x, CAST(NULL AS VARCHAR) AS empty")
    assert table.column_names == ["x", "x", "empty"]
    assert table.to_pylist() == [{"x": "a", "empty": None}]  # to_pylist keeps the last "x"
    assert [table.column(0)[0].as_py(), table.column(1)[0].as_py()] == [1, "a"]
