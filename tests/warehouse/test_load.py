"""Loads on both engines: every row arrives, reloads change nothing, a request's rows are
replaced as a whole, and a load that fails halfway leaves the previous state."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clova_etl import schema as declared
from clova_etl.warehouse import (
    ChecksFailedError,
    DataRejectedError,
    ParquetInputError,
    Warehouse,
)
from tests.warehouse.builder import T0, BatchBuilder, rid
from tests.warehouse.conftest import rows, snapshot


def first_batch() -> BatchBuilder:
    b = BatchBuilder()
    b.request(rid(1), pages=2, fields=5, tables=1, subfields=2)
    b.request(rid(2), api="template", fields=3, subfields=2)
    b.request(rid(3), status="failed")
    b.obj("s3://bucket/inbox/a.pdf", "a" * 64)
    return b


def test_load_brings_every_row_and_records_the_load(wh: Warehouse, tmp_path: Path) -> None:
    b = first_batch()
    result = wh.load(b.write(tmp_path / "b1", files_per_table=2), run_id="run-7")

    expected = {name: len(b.rows[name]) for name in b.rows}
    assert result.rows == expected
    assert wh.row_counts() | {} == {**expected, "etl_loads": 1, "etl_check_results": 11}
    assert result.request_count == 3
    assert [c.status for c in result.checks] == ["pass"] * 10 + ["pass"]
    assert rows(wh, "ocr_fields", f"request_id = '{rid(1)}'")[0]["polygon"] == [
        0.0, 10.0, 10.0, 10.0, 10.0, 20.0, 0.0, 20.0,
    ]  # fmt: skip

    (load,) = rows(wh, "etl_loads")
    assert load["load_id"] == result.load_id
    assert load["run_id"] == "run-7"
    assert load["status"] == "succeeded"
    assert json.loads(load["table_rows"]) == expected
    assert load["total_rows"] == sum(expected.values())
    assert load["request_count"] == 3
    checks = rows(wh, "etl_check_results")
    assert {c["check_run_id"] for c in checks} == {result.load_id}
    assert {c["load_id"] for c in checks} == {result.load_id}
    assert {c["status"] for c in checks} == {"pass"}
    assert {c["scope"] for c in checks} == {"batch"}


def test_reload_of_the_same_data_changes_nothing(wh: Warehouse, tmp_path: Path) -> None:
    batch = first_batch().write(tmp_path / "b1")
    wh.load(batch)
    before = snapshot(wh)
    again = wh.load(batch)
    assert snapshot(wh) == before
    assert again.rows["ocr_fields"] == len(before["ocr_fields"])
    assert [r["status"] for r in rows(wh, "etl_loads")] == ["succeeded", "succeeded"]


def test_a_reloaded_request_loses_the_rows_it_no_longer_has(wh: Warehouse, tmp_path: Path) -> None:
    b = first_batch()
    wh.load(b.write(tmp_path / "b1"))
    untouched = rows(wh, "ocr_fields", f"request_id = '{rid(2)}'")

    smaller = BatchBuilder()
    smaller.request(rid(1), pages=1, fields=2)  # was 2 pages of 5 fields, subfields, a table
    wh.load(smaller.write(tmp_path / "b2"))

    fields = rows(wh, "ocr_fields", f"request_id = '{rid(1)}'")
    assert [(r["image_index"], r["field_index"]) for r in fields] == [(0, 0), (0, 1)]
    for table in ("ocr_subfields", "ocr_tables", "ocr_table_cells", "ocr_cell_words"):
        assert rows(wh, table, f"request_id = '{rid(1)}'") == [], table
    assert len(rows(wh, "ocr_images", f"request_id = '{rid(1)}'")) == 1
    assert rows(wh, "ocr_fields", f"request_id = '{rid(2)}'") == untouched
    assert len(rows(wh, "ocr_requests")) == 3


def test_a_load_failing_in_its_last_table_leaves_the_previous_state(
    wh: Warehouse, tmp_path: Path
) -> None:
    wh.load(first_batch().write(tmp_path / "b1"))
    before = snapshot(wh)

    b = BatchBuilder()
    b.request(rid(1), pages=1, fields=9, tables=1)
    b.request(rid(4), fields=2)
    b.rows["ocr_cell_words"][-1]["parser_version"] = None  # NOT NULL: refused by the database
    with pytest.raises(DataRejectedError, match="parser_version") as caught:
        wh.load(b.write(tmp_path / "b2"))
    assert not caught.value.transient

    assert snapshot(wh) == before
    failed = rows(wh, "etl_loads", "status = 'failed'")
    assert len(failed) == 1
    assert "parser_version" in failed[0]["error_message"]


def test_duplicate_keys_fail_the_load_naming_the_check_and_keys(
    wh: Warehouse, tmp_path: Path
) -> None:
    wh.load(first_batch().write(tmp_path / "b1"))
    before = snapshot(wh)

    b = BatchBuilder()
    b.request(rid(1), fields=3)
    b.rows["ocr_fields"].append(dict(b.rows["ocr_fields"][1]))
    with pytest.raises(ChecksFailedError) as caught:
        wh.load(b.write(tmp_path / "b2"))

    message = str(caught.value)
    assert "keys_unique" in message
    assert f"ocr_fields(request_id={rid(1)}, image_index=0, field_index=1)" in message
    assert [r.name for r in caught.value.failed] == ["keys_unique"]
    assert snapshot(wh) == before
    (failed,) = rows(wh, "etl_loads", "status = 'failed'")
    assert failed["load_id"] == caught.value.load_id
    (result,) = rows(
        wh, "etl_check_results", f"load_id = '{failed['load_id']}' AND status = 'fail'"
    )
    assert result["check_name"] == "keys_unique"
    assert "field_index=1" in json.loads(result["sample_keys"])[0]


def test_objects_keep_their_latest_status(wh: Warehouse, tmp_path: Path) -> None:
    uri, sha = "s3://bucket/inbox/x.pdf", "b" * 64
    old = BatchBuilder()
    old.obj(uri, sha, status="pending", updated_at=T0)
    old.obj("s3://bucket/inbox/y.pdf", "c" * 64, status="rejected", error_code="EMPTY")
    old_dir = old.write(tmp_path / "old")
    wh.load(old_dir)

    new = BatchBuilder()
    new.obj(uri, sha, status="failed", updated_at=T0 + timedelta(minutes=1))
    new.obj(uri, sha, status="loaded", updated_at=T0 + timedelta(minutes=2))  # same batch
    wh.load(new.write(tmp_path / "new", files_per_table=2))

    def statuses() -> dict[str, str]:
        return {r["source_uri"]: r["status"] for r in rows(wh, "etl_objects")}

    assert statuses() == {uri: "loaded", "s3://bucket/inbox/y.pdf": "rejected"}
    wh.load(old_dir)  # replaying an older batch does not move the status back
    assert statuses() == {uri: "loaded", "s3://bucket/inbox/y.pdf": "rejected"}


def test_a_parquet_file_without_a_nullable_column_loads_nulls(
    wh: Warehouse, tmp_path: Path
) -> None:
    b = BatchBuilder()
    b.request(rid(1), fields=2)
    root = b.write(tmp_path / "b1")
    path = root / "ocr_fields" / "part-0.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["line_number", "table_index"]), path)

    result = wh.load(root)
    assert result.rows["ocr_fields"] == 2
    assert {r["line_number"] for r in rows(wh, "ocr_fields")} == {None}


def test_files_of_one_table_may_differ_in_columns(wh: Warehouse, tmp_path: Path) -> None:
    b = BatchBuilder()
    b.request(rid(1), fields=4)
    root = b.write(tmp_path / "b1", files_per_table=2)
    path = root / "ocr_fields" / "part-1.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["line_number"]), path)

    wh.load(root)
    assert [r["line_number"] for r in rows(wh, "ocr_fields")] == [1, 1, None, None]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("unknown_column", "does not declare"),
        ("wrong_type", "declared int32"),
        ("missing_key", "lacks required column"),
        ("not_parquet", "not a readable Parquet file"),
    ],
)
def test_parquet_that_does_not_fit_the_schema_is_refused_before_loading(
    wh: Warehouse, tmp_path: Path, change: str, message: str
) -> None:
    b = BatchBuilder()
    b.request(rid(1), fields=2)
    root = b.write(tmp_path / "b1")
    path = root / "ocr_fields" / "part-0.parquet"
    table = pq.read_table(path)
    if change == "unknown_column":
        table = table.append_column("surprise", pa.array([1, 2]))
    elif change == "wrong_type":
        table = table.set_column(
            table.schema.get_field_index("image_index"),
            "image_index",
            pa.array(["0", "0"]),
        )
    elif change == "missing_key":
        table = table.drop_columns(["field_index"])
    if change == "not_parquet":
        path.write_bytes(b"not parquet at all")
    else:
        pq.write_table(table, path)

    with pytest.raises(ParquetInputError, match=message) as caught:
        wh.load(root)
    assert str(path) in str(caught.value)
    assert wh.row_counts()["ocr_requests"] == 0
    (failed,) = rows(wh, "etl_loads")  # refused before the transaction, and still recorded
    assert failed["status"] == "failed" and str(path) in failed["error_message"]


def test_a_folder_without_tables_is_refused(wh: Warehouse, tmp_path: Path) -> None:
    with pytest.raises(ParquetInputError, match="not a folder"):
        wh.load(tmp_path / "missing")
    (tmp_path / "empty" / "ocr_fields").mkdir(parents=True)
    with pytest.raises(ParquetInputError, match="holds no Parquet tables"):
        wh.load(tmp_path / "empty")


def test_writer_temp_files_are_ignored(wh: Warehouse, tmp_path: Path) -> None:
    b = BatchBuilder()
    b.request(rid(1), fields=2)
    root = b.write(tmp_path / "b1")
    (root / "ocr_fields" / ".part-9.parquet").write_bytes(b"half written")
    (root / "ocr_fields" / "_tmp").mkdir()
    (root / "ocr_fields" / "_tmp" / "part-0.parquet").write_bytes(b"half written")
    assert wh.load(root).rows["ocr_fields"] == 2


def test_progress_is_reported_per_table(wh: Warehouse, tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    wh.load(first_batch().write(tmp_path / "b1"), on_progress=lambda t, n: seen.append((t, n)))
    assert [t for t, _ in seen] == [*declared.TABLES, "etl_objects"]
    assert dict(seen)["ocr_fields"] == 13


def test_a_batch_of_only_objects_loads(wh: Warehouse, tmp_path: Path) -> None:
    b = BatchBuilder()
    b.obj("s3://bucket/inbox/z.tiff", "", status="rejected", error_code="UNREADABLE")
    result = wh.load(b.write(tmp_path / "b1"))
    assert result.rows == {"etl_objects": 1}
    assert result.request_count == 0
