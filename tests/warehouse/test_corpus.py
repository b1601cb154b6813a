"""The flattener's output of the real corpus loads on both engines with every check passing."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from clova_etl import schema as declared
from clova_etl.warehouse import Warehouse
from tests.warehouse.conftest import rows


def test_the_flattened_corpus_loads_and_passes_every_blocking_check(
    wh: Warehouse, corpus_parquet: Path
) -> None:
    expected = {
        name: sum(pq.ParquetFile(p).metadata.num_rows for p in folder.rglob("*.parquet"))
        for name in declared.TABLES
        if (folder := corpus_parquet / name).is_dir()
    }

    result = wh.load(corpus_parquet, run_id="corpus")

    assert {k: v for k, v in result.rows.items() if k in expected} == expected
    assert [c.summary() for c in result.checks if c.status == "fail"] == []
    before = {name: rows(wh, name) for name in declared.TABLES}
    again = wh.load(corpus_parquet, run_id="corpus")  # idempotent on real data too
    assert {name: rows(wh, name) for name in declared.TABLES} == before
    assert [c.status for c in again.checks] == [c.status for c in result.checks]


def test_views_over_the_real_corpus(wh: Warehouse, corpus_parquet: Path) -> None:
    wh.load(corpus_parquet)
    schema = f'"{wh.schema}"'
    texts = wh.query(f"SELECT page_text FROM {schema}.page_text").column(0).to_pylist()
    assert texts and all(isinstance(t, str) for t in texts)
    assert any("\n" in t for t in texts)  # General V2 answers carry lineBreak
    grid = wh.query(
        f"SELECT table_index, row_index, column_index, row_span, cell_text FROM {schema}.table_grid"
    ).to_pylist()
    assert any(c["row_span"] > 1 for c in grid)  # the corpus has rowSpan=2 cells
    assert any(c["cell_text"] == "" for c in grid)  # and empty cells
    fields = wh.query(f"SELECT field_name, value FROM {schema}.template_fields").to_pylist()
    assert any(f["field_name"] for f in fields)
    failed = wh.query(f"SELECT status, error_code FROM {schema}.failed_requests").to_pylist()
    assert failed  # the error body and the Document OCR receipt are recorded, not dropped
