"""Every real response of the shared corpus, flattened and checked against an independent count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from clova_etl.flatten import flatten_documents
from clova_etl.identity import response_file_request_id
from clova_etl.schema import PARSER_VERSION, TABLES
from tests.flatten.reference import expected_rows, project

FAILED = {
    "dev-sngwn__sungwon.github.io__error-1021-not-found-deploy-info": "1021",
    "maltepoo__bar-guni__document-receipt-api": "UNSUPPORTED_RESPONSE",
}
AUTORAG = "Marker-Inc-Korea__AutoRAG__general-table-pdfpage"
YAMYAM = "Seongyoon-Jung__YamYamCoach__general-table-dietmenu-1"
PRESCRIPTION = "hangyeol17__Pill_Management__template-prescription"
V1_TEMPLATE = "dev-sngwn__sungwon.github.io__v1-template-bounding-2019"
V1_NOBOX = "dev-sngwn__sungwon.github.io__v1-general-2019-nobbox"
KINGMART = "maltepoo__bar-guni__general-receipt-kingmart"


def _one(path: Path) -> tuple[dict[str, pa.Table], str, dict[str, Any]]:
    data = path.read_bytes()
    tables = flatten_documents([(str(path), data)])
    return tables, response_file_request_id(data), json.loads(data)


def _rows(table: pa.Table, where: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    rows = table.to_pylist()
    return [r for r in rows if all(r[k] == v for k, v in (where or {}).items())]


def test_corpus_has_every_kind(corpus_files: dict[str, Path]) -> None:
    for stem in (*FAILED, AUTORAG, YAMYAM, PRESCRIPTION, V1_TEMPLATE, V1_NOBOX, KINGMART):
        assert stem in corpus_files


def test_each_file_flattens_to_exactly_its_rows(corpus_files: dict[str, Path]) -> None:
    for stem, path in corpus_files.items():
        tables, rid, response = _one(path)
        assert set(tables) == set(TABLES)
        for name, table in tables.items():
            assert table.schema.equals(TABLES[name].arrow_schema), name
            assert table.column("parser_version").to_pylist() == [PARSER_VERSION] * len(table)
        (request,) = tables["ocr_requests"].to_pylist()
        assert request["request_id"] == rid
        assert request["source_uri"] == request["raw_uri"] == str(path)
        assert request["response_request_id"] == response.get("requestId")
        if stem in FAILED:
            assert request["status"] == "failed"
            assert request["error_code"] == FAILED[stem]
            assert request["error_message"]
            assert all(tables[n].num_rows == 0 for n in TABLES if n != "ocr_requests"), stem
            continue
        assert request["status"] == "succeeded", (stem, request["error_message"])
        assert request["error_code"] is None
        assert request["pages_returned"] == len(response["images"])
        expected = expected_rows(response, rid)
        for name, rows in expected.items():
            got = tables[name].to_pylist()
            assert len(got) == len(rows), (stem, name)
            assert project(got, rows) == rows, (stem, name)


def test_corpus_totals(corpus_tables: dict[str, pa.Table], corpus_files: dict[str, Path]) -> None:
    counts = dict.fromkeys(TABLES, 0)
    for stem, path in corpus_files.items():
        counts["ocr_requests"] += 1
        if stem in FAILED:
            continue
        for name, rows in expected_rows(json.loads(path.read_bytes()), "x").items():
            counts[name] += len(rows)
    assert {n: t.num_rows for n, t in corpus_tables.items()} == counts
    assert counts["ocr_fields"] == 533 + 372 + 69 + 106 + 13 + 1 + 1 + 73


def test_autorag_table_cells_match_the_parser_expectations(corpus_files: dict[str, Path]) -> None:
    # result_table.txt next to the response in Marker-Inc-Korea/AutoRAG renders the first text
    # line of each cell as an HTML grid (rowspan="2" on the two merged cells).
    expected_first_lines = {
        (0, 0): "쿠분",
        (0, 1): "변명 전",
        (0, 2): "변경 후",
        (1, 0): "자동 투구 면접",
        (1, 1): "",
        (1, 2): "심판판정의 공청성 일관성 정확성 향상을 위해",
        (2, 0): "KBD 피치클락 규정",
        (2, 1): "-",
        (2, 2): "경기장 내 구분로다운 타이머교차클릭을 이용례",
        (3, 0): "제26조",
        (3, 1): "-",
        (3, 2): "퓨처스리그에서는 유니폼 내 착용하는 청태에 한하여",
        (4, 0): "제28조",
        (4, 1): "",
        (4, 2): "수비 시프트 제한 위반 판정에 대테 비디오 전복 요청",
        (5, 2): "대기실입 루심간 무전기 사용",
    }
    tables, _, _ = _one(corpus_files[AUTORAG])
    cells = tables["ocr_table_cells"].to_pylist()
    assert len(cells) == 16
    got = {(c["row_index"], c["column_index"]): c["cell_text"].split("\n")[0] for c in cells}
    assert got == expected_first_lines
    by_pos = {(c["row_index"], c["column_index"]): c for c in cells}
    assert by_pos[(4, 0)]["row_span"] == by_pos[(4, 1)]["row_span"] == 2
    assert by_pos[(1, 0)]["cell_text"] == "자동 투구 면접\n시스템(ABSI 규정"
    assert by_pos[(3, 0)]["line_count"] == 4
    empty = [c for c in cells if c["line_count"] == 0]
    assert [(c["row_index"], c["column_index"], c["cell_text"]) for c in empty] == [
        (1, 1, ""),
        (4, 1, ""),
    ]
    assert sum(c["line_count"] >= 2 for c in cells) == 7
    (table,) = tables["ocr_tables"].to_pylist()
    assert (table["row_count"], table["column_count"], table["cell_count"]) == (6, 3, 16)
    assert tables["ocr_images"].column("source_page").to_pylist() == [1]
    assert tables["ocr_images"].column("converted_width").to_pylist() == [595]


def test_autorag_table_words_are_counted_once(corpus_files: dict[str, Path]) -> None:
    tables, _, _ = _one(corpus_files[AUTORAG])
    fields = tables["ocr_fields"].to_pylist()
    in_table = [f for f in fields if f["table_index"] == 0]
    outside = [f for f in fields if f["table_index"] is None]
    # The 63 cell words are 63 of the 69 fields; only the heading line lies outside the table.
    assert len(in_table) == tables["ocr_cell_words"].num_rows == 63
    assert " ".join(f["infer_text"] for f in outside) == "2024년 KBO 리그 규정 변경 요약사항"
    words = sorted(w["infer_text"] for w in tables["ocr_cell_words"].to_pylist())
    assert sorted(f["infer_text"] for f in in_table) == words


def test_line_numbers_follow_line_breaks(corpus_files: dict[str, Path]) -> None:
    tables, _, _ = _one(corpus_files[AUTORAG])
    fields = tables["ocr_fields"].to_pylist()
    assert [f["line_number"] for f in fields[:10]] == [1, 1, 1, 1, 1, 1, 2, 2, 2, 3]
    assert fields[-1]["line_number"] == 17 == sum(f["line_break"] for f in fields)
    for stem in (V1_NOBOX, PRESCRIPTION, V1_TEMPLATE):
        tables, _, _ = _one(corpus_files[stem])
        assert set(tables["ocr_fields"].column("line_number").to_pylist()) == {None}, stem


def test_yamyam_large_table(corpus_files: dict[str, Path]) -> None:
    tables, _, _ = _one(corpus_files[YAMYAM])
    (table,) = tables["ocr_tables"].to_pylist()
    assert (table["row_count"], table["column_count"], table["cell_count"]) == (20, 7, 122)
    cells = tables["ocr_table_cells"].to_pylist()
    assert sum(c["cell_text"] == "" for c in cells) == 27
    assert sum(c["row_span"] > 1 for c in cells) == 4
    # Integer literals (24, 1) become float64 coordinates and confidences.
    assert all(isinstance(c["x_min"], float) for c in cells)


def test_template_title_and_subfields(corpus_files: dict[str, Path]) -> None:
    tables, _, _ = _one(corpus_files[PRESCRIPTION])
    (image,) = tables["ocr_images"].to_pylist()
    assert image["matched_template_id"] == 25072
    assert image["matched_template_name"] == "pill_management"
    assert image["title_name"] == image["title_infer_text"] == "처방전"
    assert image["title_polygon"] == [249.0, 2.0, 366.0, 2.0, 366.0, 30.0, 249.0, 30.0]
    assert (image["title_x_min"], image["title_y_max"]) == (249.0, 30.0)
    subfields = tables["ocr_subfields"].to_pylist()
    assert len(subfields) == 42
    assert subfields[0]["field_index"] == -1
    assert subfields[0]["subfield_index"] == 0
    assert subfields[0]["infer_text"] == "처방전"
    assert [s["field_index"] for s in subfields[1:]] == [0] * 41
    assert [s["subfield_index"] for s in subfields[1:]] == list(range(41))
    (field,) = tables["ocr_fields"].to_pylist()
    assert field["name"] == "Field 01"
    assert field["subfield_count"] == 41
    assert "\n" in field["infer_text"]
    request = tables["ocr_requests"].to_pylist()[0]
    assert request["api"] == "template"


def test_v1_bounding_maps_to_polygon_and_box(corpus_files: dict[str, Path]) -> None:
    tables, _, _ = _one(corpus_files[V1_TEMPLATE])
    (field,) = tables["ocr_fields"].to_pylist()
    left, top, width, height = 448.08237, 607.4006, 501.85226, 99.57385
    assert (field["x_min"], field["y_min"]) == (left, top)
    assert (field["x_max"], field["y_max"]) == (left + width, top + height)
    assert field["polygon"] == [
        left,
        top,
        left + width,
        top,
        left + width,
        top + height,
        left,
        top + height,
    ]
    (image,) = tables["ocr_images"].to_pylist()
    assert image["title_x_min"] == 144.9561
    assert image["title_infer_text"] == "비포\n선라이즈"
    assert tables["ocr_requests"].column("version").to_pylist() == ["V1"]


def test_fields_without_geometry_keep_null_boxes(corpus_files: dict[str, Path]) -> None:
    tables, _, _ = _one(corpus_files[V1_NOBOX])
    fields = tables["ocr_fields"].to_pylist()
    assert len(fields) == 13
    for f in fields:
        assert f["polygon"] is None
        assert f["x_min"] is f["y_min"] is f["x_max"] is f["y_max"] is None
        assert f["table_index"] is None
        assert f["infer_text"]


def test_skewed_receipt_quads(corpus_files: dict[str, Path]) -> None:
    tables, _, response = _one(corpus_files[KINGMART])
    fields = tables["ocr_fields"].to_pylist()
    assert "(주)" in fields[0]["infer_text"] or any("킹마트" in f["infer_text"] for f in fields)
    raw = response["images"][0]["fields"]
    skewed = 0
    for got, src in zip(fields, raw, strict=True):
        xs = [v["x"] for v in src["boundingPoly"]["vertices"]]
        ys = [v["y"] for v in src["boundingPoly"]["vertices"]]
        assert (got["x_min"], got["x_max"]) == (min(xs), max(xs))
        assert (got["y_min"], got["y_max"]) == (min(ys), max(ys))
        skewed += xs[0] != xs[3] or ys[0] != ys[1]
    assert skewed > 0
    assert tables["ocr_images"].column("source_page").to_pylist() == [1]
    assert tables["ocr_images"].column("converted_width").to_pylist() == [None]


@pytest.mark.parametrize("stem", [AUTORAG, PRESCRIPTION, V1_TEMPLATE])
def test_pretty_and_compact_give_the_same_rows(corpus_files: dict[str, Path], stem: str) -> None:
    # Pretty-printed files take the slow path, compact ones the fast path: same rows.
    pretty = corpus_files[stem].read_bytes()
    compact = json.dumps(json.loads(pretty), ensure_ascii=False, separators=(",", ":")).encode()
    slow = flatten_documents([("doc", pretty)])
    fast = flatten_documents([("doc", compact)])
    for name in TABLES:
        # Both ids come from the bytes (the content hash too), not from what they mean.
        ids = ["request_id", "content_hash"] if name == "ocr_requests" else ["request_id"]
        a = slow[name].drop_columns(ids).to_pylist()
        b = fast[name].drop_columns(ids).to_pylist()
        assert a == b, name
