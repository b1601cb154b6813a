"""Parquet output: schemas, determinism, batching, the CLI and DuckDB reading the datasets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clova_etl.cli import main
from clova_etl.flatten import flatten_documents, flatten_to_parquet
from clova_etl.schema import TABLES


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def _read(root: Path, name: str) -> pa.Table:
    files = sorted((root / name).glob("*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files])


def test_files_have_the_declared_schemas(corpus_parquet: Path) -> None:
    for name, table in TABLES.items():
        files = sorted((corpus_parquet / name).glob("part-*.parquet"))
        assert files, name
        for f in files:
            schema = pq.read_schema(f).remove_metadata()
            assert schema.equals(table.arrow_schema), (name, schema)
            assert pq.ParquetFile(f).metadata.num_row_groups == 1


def test_parquet_equals_the_in_memory_tables(
    corpus_parquet: Path, corpus_tables: dict[str, pa.Table]
) -> None:
    for name in TABLES:
        assert _read(corpus_parquet, name).equals(corpus_tables[name]), name


def test_same_inputs_give_byte_identical_files(corpus_dir: Path, tmp_path: Path) -> None:
    a = flatten_to_parquet([corpus_dir], tmp_path / "a", batch_bytes=300_000, workers=2)
    b = flatten_to_parquet([corpus_dir], tmp_path / "b", batch_bytes=300_000, workers=1)
    assert a.rows == b.rows
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(files_a) > len(TABLES)  # several batches
    assert files_a == files_b


def test_batches_split_rows_not_change_them(corpus_dir: Path, tmp_path: Path) -> None:
    one = flatten_to_parquet([corpus_dir], tmp_path / "one")
    many = flatten_to_parquet([corpus_dir], tmp_path / "many", batch_bytes=1)
    assert len(list((tmp_path / "many" / "ocr_fields").glob("*.parquet"))) == many.documents == 10
    assert one.rows == many.rows
    for name in TABLES:
        assert _read(tmp_path / "one", name).equals(_read(tmp_path / "many", name)), name


def test_rerun_replaces_earlier_parts(corpus_dir: Path, tmp_path: Path) -> None:
    flatten_to_parquet([corpus_dir], tmp_path, batch_bytes=1)
    flatten_to_parquet([corpus_dir], tmp_path)
    for name in TABLES:
        assert [p.name for p in (tmp_path / name).iterdir()] == ["part-00000.parquet"]


def test_summary(corpus_dir: Path, corpus_files: dict[str, Path], tmp_path: Path) -> None:
    summary = flatten_to_parquet([corpus_dir], tmp_path)
    assert summary.documents == len(corpus_files)
    assert summary.input_bytes == sum(p.stat().st_size for p in corpus_files.values())
    assert summary.rows["ocr_requests"] == len(corpus_files)
    assert summary.rows["ocr_fields"] == 1168
    assert len(summary.files) == len(TABLES)
    assert sorted((f.name.split("__")[-1], f.error_code) for f in summary.failed) == [
        ("document-receipt-api.json", "UNSUPPORTED_RESPONSE"),
        ("error-1021-not-found-deploy-info.json", "1021"),
    ]


def test_items_and_paths_are_the_same_input(corpus_files: dict[str, Path]) -> None:
    paths = list(corpus_files.values())
    by_path = flatten_documents(paths)
    by_item = flatten_documents([(str(p), p.read_bytes()) for p in paths])
    for name in TABLES:
        assert by_path[name].equals(by_item[name]), name


def test_no_input_still_gives_readable_datasets(tmp_path: Path) -> None:
    summary = flatten_to_parquet([], tmp_path)
    assert summary.documents == 0
    con = duckdb.connect()
    for name in TABLES:
        assert (
            _scalar(con, f"select count(*) from read_parquet('{tmp_path / name}/*.parquet')") == 0
        )


def test_cli_end_to_end_read_by_duckdb(
    corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["flatten", str(corpus_dir), "--out", str(out), "--batch-mb", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert "10 documents" in printed
    assert "UNSUPPORTED_RESPONSE" in printed
    con = duckdb.connect(str(tmp_path / "check.duckdb"))
    counts = {
        name: _scalar(con, f"select count(*) from read_parquet('{out / name}/*.parquet')")
        for name in TABLES
    }
    assert counts == {
        "ocr_requests": 10,
        "ocr_images": 8,
        "ocr_fields": 1168,
        "ocr_subfields": 42,
        "ocr_tables": 2,
        "ocr_table_cells": 138,
        "ocr_cell_words": 167,
    }
    # Keys are unique, and table words are told apart from the other fields.
    dupes = _scalar(
        con,
        f"select count(*) from (select request_id, image_index, field_index, count(*) c "
        f"from read_parquet('{out}/ocr_fields/*.parquet') group by all having c > 1)",
    )
    assert dupes == 0
    words_outside_tables = _scalar(
        con,
        f"select count(*) from read_parquet('{out}/ocr_fields/*.parquet') f "
        f"join read_parquet('{out}/ocr_tables/*.parquet') t using (request_id, image_index) "
        f"where f.table_index is null",
    )
    # The heading line of the AutoRAG page, and 2 of the 106 YamYamCoach fields.
    assert words_outside_tables == 6 + 2
    page_text = _scalar(
        con,
        f"select string_agg(infer_text, ' ' order by field_index) from "
        f"read_parquet('{out}/ocr_fields/*.parquet') f join "
        f"read_parquet('{out}/ocr_requests/*.parquet') r using (request_id) "
        f"where r.raw_uri like '%AutoRAG%' and f.line_number = 1",
    )
    assert page_text == "2024년 KBO 리그 규정 변경 요약사항"
    failed = con.execute(
        f"select error_code from read_parquet('{out}/ocr_requests/*.parquet') "
        f"where status = 'failed' order by error_code"
    ).fetchall()
    assert failed == [("1021",), ("UNSUPPORTED_RESPONSE",)]


def test_cli_reads_single_files(corpus_files: dict[str, Path], tmp_path: Path) -> None:
    path = corpus_files["Marker-Inc-Korea__AutoRAG__general-table-pdfpage"]
    assert main(["flatten", str(path), "--out", str(tmp_path)]) == 0
    cells = _read(tmp_path, "ocr_table_cells")
    assert cells.num_rows == 16
    body = json.loads(path.read_bytes())
    assert cells.column("cell_index").to_pylist() == list(
        range(len(body["images"][0]["tables"][0]["cells"]))
    )


def test_cli_names_missing_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flatten", str(tmp_path / "nope.json"), "--out", str(tmp_path / "out")]) == 2
    assert "nope.json" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_flatten_does_not_load_pandas(corpus_dir: Path, tmp_path: Path) -> None:
    # pyarrow imports pandas on first pa.array()/to_numpy(); flatten avoids both (0.4 s a run).
    code = (
        "import sys\n"
        "from clova_etl.flatten import flatten_to_parquet\n"
        f"flatten_to_parquet([{str(corpus_dir)!r}], {str(tmp_path)!r})\n"
        "assert 'pandas' not in sys.modules, 'pandas was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
