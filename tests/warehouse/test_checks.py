"""Each check fails on data crafted to break it, naming itself and the offending keys."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from clova_etl.warehouse import (
    CHECKS,
    CheckConfig,
    ChecksFailedError,
    Warehouse,
    WarehouseConfigError,
    connect,
)
from tests.warehouse.builder import BatchBuilder, rid
from tests.warehouse.conftest import rows, snapshot

Breaker = Callable[[BatchBuilder], None]


def plain(samples: str | Iterable[str]) -> Any:
    """Samples without the float spelling that differs by engine (DuckDB 30.0, PostgreSQL 30)."""
    if isinstance(samples, str):
        return re.sub(r"(\d)\.0\b", r"\1", samples)
    return [plain(s) for s in samples]


def good() -> BatchBuilder:
    b = BatchBuilder()
    b.request(rid(1), pages=1, fields=4, tables=1, subfields=1)
    b.request(rid(2), api="template", fields=2, subfields=2)
    return b


def _orphan_field(b: BatchBuilder) -> None:
    b.add("ocr_fields", request_id=rid(1), image_index=5, field_index=0, infer_text="lost")


def _confidence(b: BatchBuilder) -> None:
    b.where("ocr_table_cells", cell_index=3)[0]["infer_confidence"] = 1.5


def _box(b: BatchBuilder) -> None:
    word = b.where("ocr_cell_words", cell_index=2)[0]
    word["x_min"], word["x_max"] = 30.0, 20.0


def _polygon(b: BatchBuilder) -> None:
    b.where("ocr_subfields", request_id=rid(2), field_index=1)[0]["polygon"] = [1.0, 2.0, 3.0]


def _span(b: BatchBuilder) -> None:
    b.where("ocr_table_cells", cell_index=0)[0]["row_span"] = 3  # a 2x2 table


def _images(b: BatchBuilder) -> None:
    b.where("ocr_requests", request_id=rid(2))[0]["pages_returned"] = 2
    b.where("ocr_requests", request_id=rid(2))[0]["pages_sent"] = 2


BLOCKING: list[tuple[str, Breaker, str]] = [
    (
        "parents_exist",
        _orphan_field,
        f"ocr_fields(request_id={rid(1)}, image_index=5, field_index=0) [no ocr_images row]",
    ),
    (
        "confidence_range",
        _confidence,
        f"ocr_table_cells(request_id={rid(1)}, image_index=0, table_index=0, cell_index=3) "
        "[infer_confidence=1.5]",
    ),
    (
        "boxes_well_formed",
        _box,
        f"ocr_cell_words(request_id={rid(1)}, image_index=0, table_index=0, cell_index=2, "
        "line_index=0, word_index=0) [box=30.0,10.0,20.0,20.0 vertices=8]",
    ),
    (
        "boxes_well_formed",
        _polygon,
        f"ocr_subfields(request_id={rid(2)}, image_index=0, field_index=1, subfield_index=0) "
        "[box=0.0,10.0,10.0,20.0 vertices=3]",
    ),
    (
        "cell_spans_inside_table",
        _span,
        f"ocr_table_cells(request_id={rid(1)}, image_index=0, table_index=0, cell_index=0) "
        "[row 0+3 of 2, column 0+1 of 2]",
    ),
    (
        "images_match_pages_returned",
        _images,
        f"ocr_requests(request_id={rid(2)}) [pages_sent=2 pages_returned=2 image_rows=1]",
    ),
]


@pytest.mark.parametrize(
    ("check", "breaker", "sample"), BLOCKING, ids=[f"{c}-{b.__name__}" for c, b, _ in BLOCKING]
)
def test_a_blocking_check_fails_the_load_with_its_name_and_keys(
    wh: Warehouse, tmp_path: Path, check: str, breaker: Breaker, sample: str
) -> None:
    wh.load(good().write(tmp_path / "ok"))
    before = snapshot(wh)
    bad = good()
    breaker(bad)

    with pytest.raises(ChecksFailedError) as caught:
        wh.load(bad.write(tmp_path / "bad"))

    failed = {r.name: r for r in caught.value.failed}
    assert check in failed, str(caught.value)
    assert plain(failed[check].sample_keys) == [plain(sample)]
    assert failed[check].failing_rows == 1
    assert check in str(caught.value) and sample.split(" [")[0] in str(caught.value)
    assert snapshot(wh) == before  # rolled back
    recorded = rows(wh, "etl_check_results", f"check_name = '{check}' AND status = 'fail'")
    assert [plain(json.loads(r["sample_keys"])) for r in recorded] == [[plain(sample)]]
    (load,) = rows(wh, "etl_loads", "status = 'failed'")
    assert load["load_id"] == recorded[0]["load_id"] == caught.value.load_id


def _overlap(b: BatchBuilder) -> None:
    cell = b.where("ocr_table_cells", cell_index=1)[0]
    cell["column_index"] = 0  # now on top of cell 0


def _fewer_pages(b: BatchBuilder) -> None:
    b.where("ocr_requests", request_id=rid(2))[0]["pages_sent"] = 3


def _pending(b: BatchBuilder) -> None:
    b.obj("s3://bucket/inbox/stuck.pdf", "d" * 64, status="pending", run_id="run-0")


def _low(b: BatchBuilder) -> None:
    for field in b.where("ocr_fields", request_id=rid(2)):
        field["infer_confidence"] = 0.1


WARNINGS: list[tuple[str, Breaker, str]] = [
    (
        "cells_not_overlapping",
        _overlap,
        f"ocr_table_cells(request_id={rid(1)}, image_index=0, table_index=0, cell_index=0) "
        "[overlaps cell_index=1]",
    ),
    (
        "pages_returned_match_sent",
        _fewer_pages,
        f"ocr_requests(request_id={rid(2)}) [pages_sent=3 pages_returned=1]",
    ),
    (
        "objects_terminal",
        _pending,
        f"etl_objects(source_uri=s3://bucket/inbox/stuck.pdf, source_sha256={'d' * 64}) "
        "[status=pending run_id=run-0]",
    ),
    (
        "low_confidence_share",
        _low,
        f"ocr_requests(request_id={rid(2)}) [low_confidence_fields=2 of 2 (share > 0.2, "
        "confidence < 0.5)]",
    ),
]


@pytest.mark.parametrize(("check", "breaker", "sample"), WARNINGS, ids=[c for c, _, _ in WARNINGS])
def test_a_warning_check_is_recorded_and_the_load_goes_through(
    wh: Warehouse, tmp_path: Path, check: str, breaker: Breaker, sample: str
) -> None:
    b = good()
    breaker(b)
    result = wh.load(b.write(tmp_path / "b"))

    (warning,) = result.warnings
    assert (warning.name, warning.status, warning.failing_rows) == (check, "warn", 1)
    assert plain(warning.sample_keys) == [plain(sample)]
    (recorded,) = rows(wh, "etl_check_results", "status = 'warn'")
    assert recorded["check_name"] == check
    assert recorded["load_id"] == result.load_id
    assert plain(json.loads(recorded["sample_keys"])) == [plain(sample)]
    assert [r["status"] for r in rows(wh, "etl_loads")] == ["succeeded"]


def test_row_counts_are_compared_with_the_batch_parquet(wh: Warehouse, tmp_path: Path) -> None:
    wh.load(good().write(tmp_path / "loaded"))
    other = BatchBuilder()
    other.request(rid(1), pages=1, fields=7, tables=1, subfields=1)  # 4 fields loaded

    results = {r.name: r for r in wh.run_checks(parquet_dir=other.write(tmp_path / "other"))}

    counts = results["row_counts_match_parquet"]
    assert counts.status == "fail"
    assert counts.sample_keys == (
        "ocr_fields [parquet=7 warehouse=4]",
        "ocr_subfields [parquet=7 warehouse=4]",
    )
    assert {r.scope for r in results.values()} == {"batch"}


def test_checks_over_the_whole_warehouse_are_recorded_without_a_load(
    wh: Warehouse, tmp_path: Path
) -> None:
    b = good()
    _confidence(b)
    lenient = CheckConfig(severities={"confidence_range": "warning"})
    with connect(wh.uri, schema=wh.schema, check_config=lenient) as relaxed:
        assert [r.name for r in relaxed.load(b.write(tmp_path / "b")).warnings] == [
            "confidence_range"
        ]

    results = wh.run_checks()

    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == [c.name for c in CHECKS]
    assert by_name["confidence_range"].status == "fail"
    assert by_name["row_counts_match_parquet"].status == "skipped"
    assert "--parquet-dir" in by_name["row_counts_match_parquet"].detail
    assert {r.scope for r in results} == {"warehouse"}
    recorded = rows(wh, "etl_check_results", "load_id IS NULL")
    assert len(recorded) == len(CHECKS)
    assert {r["status"] for r in recorded} == {"pass", "fail", "skipped"}


def test_checks_can_be_skipped_and_thresholds_tuned(wh: Warehouse, tmp_path: Path) -> None:
    b = good()
    _low(b)
    config = CheckConfig(
        low_confidence=0.05, max_low_confidence_share=0.5, skip=frozenset({"cells_not_overlapping"})
    )
    with connect(wh.uri, schema=wh.schema, check_config=config) as tuned:
        result = tuned.load(b.write(tmp_path / "b"))
    by_name = {r.name: r for r in result.checks}
    assert by_name["low_confidence_share"].status == "pass"
    assert by_name["cells_not_overlapping"].status == "skipped"


@pytest.mark.parametrize(
    "config",
    [
        {"low_confidence": 1.5},
        {"max_low_confidence_share": -0.1},
        {"sample_size": 0},
        {"severities": {"no_such_check": "warning"}},
        {"severities": {"keys_unique": "fatal"}},
        {"skip": frozenset({"nope"})},
    ],
)
def test_invalid_check_configuration_is_refused(config: dict[str, object]) -> None:
    with pytest.raises(WarehouseConfigError):
        CheckConfig(**config)  # type: ignore[arg-type]


def test_checks_failed_error_survives_pickling(wh: Warehouse, tmp_path: Path) -> None:
    import pickle

    bad = good()
    _confidence(bad)
    with pytest.raises(ChecksFailedError) as caught:
        wh.load(bad.write(tmp_path / "bad"))
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value)
    assert [r.name for r in copy.failed] == ["confidence_range"]
