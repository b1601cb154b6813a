"""Success answers: V1/V2 shapes, JSON and multipart, PDF/TIFF pages, the samples' exact truth."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from clova_etl.formats import sniff_format
from clova_etl.samples import SAMPLE_SPECS, DocumentTruth, extract_truth
from tests.fixtures.ocr_server import RunningServer
from tests.server.helpers import blank_pdf, blank_png, message, ocr, post_json, post_multipart


def _truth(path: Path) -> DocumentTruth:
    data = path.read_bytes()
    fmt = sniff_format(data)
    assert fmt is not None
    truth = extract_truth(data, fmt)
    assert truth is not None
    return truth


def _fmt(path: Path) -> str:
    return SAMPLE_SPECS[path.stem].format


def _vertices(quad: Any) -> list[dict[str, float]]:
    return [{"x": round(x, 3), "y": round(y, 3)} for x, y in quad]


@pytest.mark.parametrize("name", sorted(SAMPLE_SPECS))
def test_general_answer_is_the_samples_truth(
    ocr_server: RunningServer, sample_docs: dict[str, Path], name: str
) -> None:
    path = sample_docs[name]
    truth = _truth(path)
    answer = ocr(ocr_server, path, _fmt(path), name=name, request_id=f"truth-{name}")
    assert answer["version"] == "V2"
    assert answer["requestId"] == f"truth-{name}"
    assert len(answer["images"]) == len(truth.pages)
    for image, page in zip(answer["images"], truth.pages, strict=True):
        assert image["name"] == name
        assert image["inferResult"] == "SUCCESS"
        assert image["message"] == "SUCCESS"
        assert image["validationResult"] == {"result": "NO_REQUESTED"}
        assert re.fullmatch(r"[0-9a-f]{32}", image["uid"])
        assert "tables" not in image  # not requested
        assert "matchedTemplate" not in image and "title" not in image
        assert [f["inferText"] for f in image["fields"]] == [w.text for w in page.words]
        assert [f["lineBreak"] for f in image["fields"]] == [w.line_break for w in page.words]
        assert [f["inferConfidence"] for f in image["fields"]] == [
            round(w.confidence, 4) for w in page.words
        ]
        assert [f["boundingPoly"]["vertices"] for f in image["fields"]] == [
            _vertices(w.quad) for w in page.words
        ]
        assert {f["type"] for f in image["fields"]} == {"NORMAL"}
        assert {f["valueType"] for f in image["fields"]} == {"ALL"}


def test_rotated_receipt_has_skewed_quads(
    ocr_server: RunningServer, sample_docs: dict[str, Path]
) -> None:
    answer = ocr(ocr_server, sample_docs["receipt-ko"], "png")
    fields = answer["images"][0]["fields"]
    assert any(f["inferText"] == "킹마트" for f in fields)
    v = fields[0]["boundingPoly"]["vertices"]
    assert v[0]["y"] != v[1]["y"]  # top edge is not horizontal


def test_pdf_pages_have_converted_image_info(
    ocr_server: RunningServer, sample_docs: dict[str, Path]
) -> None:
    truth = _truth(sample_docs["contract-3p"])
    answer = ocr(ocr_server, sample_docs["contract-3p"], "pdf")
    infos = [image["convertedImageInfo"] for image in answer["images"]]
    # Rendered at 144 dpi: an A4 page (595 x 842 pt) is 1190 x 1684 px, the drawn size.
    assert infos == [{"width": 1190, "height": 1684, "pageIndex": i} for i in range(3)]
    assert [p.width for p in truth.pages] == [1190] * 3
    assert answer["images"][2]["fields"][0]["inferText"] == "제7조"


def test_pdf_rendered_at_another_dpi_scales_the_truth(
    start_ocr_server: Any, sample_docs: dict[str, Path]
) -> None:
    server = start_ocr_server(pdf_dpi=72.0)
    truth = _truth(sample_docs["contract-3p"])
    answer = ocr(server, sample_docs["contract-3p"], "pdf")
    image = answer["images"][0]
    assert image["convertedImageInfo"] == {"width": 595, "height": 842, "pageIndex": 0}
    x0, y0 = truth.pages[0].words[0].quad[0]
    assert image["fields"][0]["boundingPoly"]["vertices"][0] == {
        "x": round(x0 / 2, 3),
        "y": round(y0 / 2, 3),
    }


def test_tiff_pages(ocr_server: RunningServer, sample_docs: dict[str, Path]) -> None:
    answer = ocr(ocr_server, sample_docs["fax-2p"], "tif")
    assert [i["convertedImageInfo"] for i in answer["images"]] == [
        {"width": 1000, "height": 1300, "pageIndex": 0},
        {"width": 1000, "height": 1300, "pageIndex": 1},
    ]
    assert answer["images"][1]["fields"][0]["inferText"] == "ORDER"


def test_single_images_have_no_converted_image_info(
    ocr_server: RunningServer, sample_docs: dict[str, Path]
) -> None:
    answer = ocr(ocr_server, sample_docs["receipt-en"], "JPEG")
    assert "convertedImageInfo" not in answer["images"][0]


def test_v1_general_shape(ocr_server: RunningServer, sample_docs: dict[str, Path]) -> None:
    answer = ocr(ocr_server, sample_docs["contract-3p"], "pdf", version="V1")
    assert answer["version"] == "V1"
    for image in answer["images"]:
        assert "convertedImageInfo" not in image
        field = image["fields"][0]
        assert set(field) == {"valueType", "boundingPoly", "inferText", "inferConfidence"}


def test_v1_has_no_tables(ocr_server: RunningServer, sample_docs: dict[str, Path]) -> None:
    answer = ocr(
        ocr_server, sample_docs["invoice-table"], "png", version="V1", enableTableDetection=True
    )
    assert "tables" not in answer["images"][0]


def test_multipart_equals_json(ocr_server: RunningServer, sample_docs: dict[str, Path]) -> None:
    data = sample_docs["notice-ja"].read_bytes()
    via_json = ocr(ocr_server, data, "png", lang="ja")
    r = post_multipart(ocr_server, {**message("png", lang="ja")}, data)
    assert r.status_code == 200, r.text
    via_form = r.json()
    for answer in (via_json, via_form):
        for image in answer["images"]:
            image.pop("uid")
        answer.pop("timestamp")
    assert via_form == via_json


def test_multipart_template_pdf(ocr_server: RunningServer, sample_docs: dict[str, Path]) -> None:
    r = post_multipart(
        ocr_server, message("pdf"), sample_docs["contract-3p"].read_bytes(), api="template"
    )
    assert r.status_code == 200, r.text
    assert [i["inferResult"] for i in r.json()["images"]] == ["FAILURE"] * 3


def test_tables_only_when_requested(
    ocr_server: RunningServer, sample_docs: dict[str, Path]
) -> None:
    path = sample_docs["invoice-table"]
    plain = ocr(ocr_server, path, "png")["images"][0]
    assert "tables" not in plain
    image = ocr(ocr_server, path, "png", enableTableDetection=True)["images"][0]
    assert plain["fields"] == image["fields"]  # table words also appear in fields
    (table,) = image["tables"]
    assert set(table) == {"cells", "boundingPoly", "inferConfidence"}
    cells = {(c["rowIndex"], c["columnIndex"]): c for c in table["cells"]}
    assert len(cells) == 21
    assert cells[(1, 0)]["rowSpan"] == 2
    assert cells[(4, 0)]["columnSpan"] == 4
    empty = cells[(3, 3)]
    assert empty["cellTextLines"] == [] and empty["inferConfidence"] == 1.0
    multi = cells[(3, 1)]["cellTextLines"]
    assert [[w["inferText"] for w in line["cellWords"]] for line in multi] == [
        ["무선", "마우스"],
        ["블루투스", "5.0"],
    ]
    cell_words = {
        w["inferText"]
        for c in table["cells"]
        for line in c["cellTextLines"]
        for w in line["cellWords"]
    }
    assert cell_words <= {f["inferText"] for f in image["fields"]}
    assert set(multi[0]) == {"cellWords", "boundingPoly", "inferConfidence"}


def test_tables_empty_list_when_none_found(ocr_server: RunningServer) -> None:
    image = ocr(ocr_server, blank_png(), "png", enableTableDetection=True)["images"][0]
    assert image["tables"] == []


def test_template_v2(ocr_server: RunningServer, sample_docs: dict[str, Path]) -> None:
    answer = ocr(ocr_server, sample_docs["claim-form"], "png", api="template")
    image = answer["images"][0]
    assert image["inferResult"] == "SUCCESS"
    assert image["matchedTemplate"] == {"id": 1001, "name": "claim-form"}
    assert image["title"]["inferText"] == "보험금 청구서"
    assert [s["inferText"] for s in image["title"]["subFields"]] == ["보험금", "청구서"]
    fields = {f["name"]: f for f in image["fields"]}
    assert fields["name"]["inferText"] == "홍길동"
    assert fields["name"]["type"] == "NORMAL"
    claim = fields["claim-no"]
    assert claim["type"] == "MULTI_BOX" and claim["valueType"] == "NUMERIC"
    assert claim["inferText"] == "102831"
    assert [s["inferText"] for s in claim["subFields"]] == list("102831")
    assert fields["address"]["inferText"] == "서울특별시 중구 세종대로 110\n시청별관 3층 301호"
    assert fields["fax-checkbox"]["type"] == "CHECKBOX"
    assert fields["fax-checkbox"]["checked"] is True
    assert fields["email-checkbox"]["checked"] is False
    assert fields["email-checkbox"]["inferText"] == ""
    assert all("lineBreak" not in f for f in image["fields"])
    assert all("lineBreak" in s for f in image["fields"] for s in f.get("subFields", []))
    assert "tables" not in image


def test_template_v1_uses_bounding(ocr_server: RunningServer, sample_docs: dict[str, Path]) -> None:
    answer = ocr(ocr_server, sample_docs["claim-form"], "png", api="template", version="V1")
    image = answer["images"][0]
    assert image["matchedTemplate"]["id"] == 1001
    assert set(image["title"]["bounding"]) == {"top", "left", "width", "height"}
    assert image["title"]["bounding"] == {
        "top": 50.0,
        "left": 200.0,
        "width": 600.0,
        "height": 80.0,
    }
    for field in [image["title"], *image["fields"]]:
        assert "boundingPoly" not in field
        assert not {"type", "subFields", "checked", "lineBreak"} & set(field)


def test_template_ids_matching(ocr_server: RunningServer, sample_docs: dict[str, Path]) -> None:
    path = sample_docs["claim-form"]
    matched = ocr(ocr_server, path, "png", api="template", templateIds=[1001])
    assert matched["images"][0]["matchedTemplate"]["id"] == 1001


def test_template_not_matching_the_truth_fails(
    start_ocr_server: Any, sample_docs: dict[str, Path]
) -> None:
    server = start_ocr_server(templates={1001: "claim-form", 2002: "other"})
    image = ocr(server, sample_docs["claim-form"], "png", api="template", templateIds=[2002])[
        "images"
    ][0]
    assert image["inferResult"] == "FAILURE"
    assert "matchedTemplate" not in image and image["fields"] == []


def test_document_without_truth(ocr_server: RunningServer) -> None:
    image = ocr(ocr_server, blank_png(), "png")["images"][0]
    assert image["inferResult"] == "SUCCESS" and image["fields"] == []
    answer = ocr(ocr_server, blank_pdf(2, 100, 50), "pdf")
    assert [i["convertedImageInfo"] for i in answer["images"]] == [
        {"width": 200, "height": 100, "pageIndex": 0},
        {"width": 200, "height": 100, "pageIndex": 1},
    ]
    template = ocr(ocr_server, blank_png(), "png", api="template")["images"][0]
    assert template["inferResult"] == "FAILURE"


def test_general_on_template_form_reads_every_word(
    ocr_server: RunningServer, sample_docs: dict[str, Path]
) -> None:
    image = ocr(ocr_server, sample_docs["claim-form"], "png")["images"][0]
    texts = [f["inferText"] for f in image["fields"]]
    assert texts[:4] == ["보험금", "청구서", "성명", "홍길동"]
    assert "matchedTemplate" not in image and "title" not in image


@pytest.mark.parametrize(
    ("declared", "data", "hint"),
    [
        ("jpg", b"GIF89a\x01\x00\x01\x00", "not JPEG, PNG, PDF or TIFF (format says JPG)"),
        ("png", b"hello, not an image", "not JPEG, PNG, PDF or TIFF"),
        ("pdf", b"%PDF-1.4 broken", "cannot open PDF"),
        ("png", blank_png()[:40], "cannot decode image"),
    ],
)
def test_unreadable_image_is_an_image_error(
    start_ocr_server: Any, declared: str, data: bytes, hint: str
) -> None:
    server = start_ocr_server()
    answer = ocr(server, data, declared, request_id="broken")
    (image,) = answer["images"]
    assert image["inferResult"] == "ERROR"
    assert hint in image["message"]
    assert image["fields"] == []
    stats = server.stats()
    assert stats["total_calls"] == 1
    assert stats["billable_calls"] == 0 and stats["billable_pages"] == 0
    assert stats["billable_by_request_id"] == {}
    assert stats["responses_by_code"] == {"200": 1}


def test_lang_values(ocr_server: RunningServer) -> None:
    for lang in ("ko", "ja", "zh-TW", "ko,ja,zh-TW", ""):
        assert post_json(ocr_server, message("png", data=blank_png(), lang=lang)).status_code == 200
