"""General OCR with the tesseract engine, over HTTP: measured quality and the answer's shape.

Thresholds were set from measurements (bench/RESULTS.md, "OCR quality") a little worse than
measured, so that a regression fails and tesseract's small platform differences do not.
"""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.ocr_quality.conftest import StartServer, ocr_call
from tests.ocr_quality.corpus import GENERAL_DOCS, QualityDoc, general_doc
from tests.ocr_quality.metrics import TextScore, poly_box, score_cells, score_page

pytestmark = pytest.mark.tesseract

# doc → (largest CER accepted, smallest word accuracy accepted); measured in the comments.
LIMITS: dict[str, tuple[float, float]] = {
    "receipt-ko": (0.03, 0.80),  # CER 0.000, words 0.861
    "receipt-ko-scan": (0.05, 0.90),  # 0.017, 0.970
    "receipt-en": (0.02, 0.95),  # 0.004, 0.978
    # Japanese and Chinese word splits are tesseract's, not the drawing's: CER only.
    "notice-ja": (0.06, 0.0),  # 0.025, 0.103
    "notice-zh-tw": (0.04, 0.0),  # 0.000, 0.368
    "quotation-table": (0.03, 0.78),  # 0.000, 0.837
    "quotation-table-scan": (0.04, 0.80),  # 0.000, 0.860
    "minutes-pdf": (0.12, 0.68),  # 0.072, 0.742
    "packing-tiff": (0.02, 0.95),  # 0.000, 1.000
}
# Table-cell accuracy (right row, column, spans and text) accepted; both measured 1.000.
CELL_LIMITS = {"quotation-table": 0.95, "quotation-table-scan": 0.9}


@pytest.fixture
def tesseract_server(start_ocr_server: StartServer) -> Any:
    """A private server running the tesseract engine."""
    return start_ocr_server(engine="tesseract")


def _send(client: httpx.Client, server: Any, doc: QualityDoc, **extra: Any) -> dict[str, Any]:
    if doc.table_detection:
        extra.setdefault("enableTableDetection", True)
    extra.setdefault("lang", ",".join(doc.lang))
    return ocr_call(client, server, doc.format, doc.data, **extra)


def _assert_shape(image: dict[str, Any], width: float, height: float) -> None:
    """Fields are V2 words with quads inside the page, confidences 0..1, rows in order."""
    fields = image["fields"]
    assert fields, "no text read"
    assert fields[-1]["lineBreak"] is True
    row_tops: list[float] = []
    row: list[dict[str, Any]] = []
    for f in fields:
        assert f["type"] == "NORMAL" and f["valueType"] == "ALL"
        assert len(f["boundingPoly"]["vertices"]) == 4
        x0, y0, x1, y1 = poly_box(f["boundingPoly"])
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert 0.0 <= f["inferConfidence"] <= 1.0
        assert f["inferText"].strip() == f["inferText"] != ""
        row.append(f)
        if f["lineBreak"]:
            xs = [poly_box(w["boundingPoly"])[0] for w in row]
            assert xs == sorted(xs), "words of a row are left to right"
            row_tops.append(min(poly_box(w["boundingPoly"])[1] for w in row))
            row = []
    assert row_tops == sorted(row_tops), "rows are top to bottom"


@pytest.mark.parametrize("name", list(GENERAL_DOCS))
def test_general_ocr_quality(name: str, tesseract_server: Any, ocr_http: httpx.Client) -> None:
    doc = general_doc(name)
    body = _send(ocr_http, tesseract_server, doc)
    images = body["images"]
    assert [i["inferResult"] for i in images] == ["SUCCESS"] * len(doc.pages)
    score = TextScore()
    for index, (page, image) in enumerate(zip(doc.pages, images, strict=True)):
        if doc.format in ("pdf", "tiff"):
            # PDF rendered at the server's 144 dpi = the drawn size; TIFF pages as they are.
            assert image["convertedImageInfo"] == {
                "width": page.width,
                "height": page.height,
                "pageIndex": index,
            }
        else:
            assert "convertedImageInfo" not in image
        _assert_shape(image, page.width, page.height)
        score = score + score_page(page, image["fields"])
    max_cer, min_words = LIMITS[name]
    assert score.cer <= max_cer, f"{name}: CER {score.cer:.3f} > {max_cer}"
    assert score.word_accuracy >= min_words, f"{name}: words {score.word_accuracy:.3f}"
    if doc.table_detection:
        cells = score_cells([c for p in doc.pages for c in p.cells], images[0]["tables"])
        assert cells.structure_accuracy == 1.0
        assert cells.accuracy >= CELL_LIMITS[name], f"{name}: cells {cells.accuracy:.3f}"
    else:
        assert "tables" not in images[0]


def test_table_cells_carry_lines_words_and_spans(
    tesseract_server: Any, ocr_http: httpx.Client
) -> None:
    doc = general_doc("quotation-table")
    (image,) = _send(ocr_http, tesseract_server, doc)["images"]
    (table,) = image["tables"]
    cells = {(c["rowIndex"], c["columnIndex"]): c for c in table["cells"]}
    assert len(cells) == 26
    assert (cells[1, 0]["rowSpan"], cells[1, 0]["columnSpan"]) == (2, 1)
    assert (cells[5, 0]["rowSpan"], cells[5, 0]["columnSpan"]) == (1, 4)
    assert cells[4, 2]["cellTextLines"] == [] and cells[4, 2]["inferConfidence"] == 1.0
    two_lines = cells[3, 1]["cellTextLines"]
    assert [[w["inferText"] for w in line["cellWords"]] for line in two_lines] == [
        ["토너"],
        ["카트리지", "K-2"],
    ]
    for line in two_lines:
        assert len(line["boundingPoly"]["vertices"]) == 4
        assert 0.0 < line["inferConfidence"] <= 1.0
    x0, y0, x1, y1 = poly_box(table["boundingPoly"])
    assert abs(x0 - 60) <= 3 and abs(y0 - 300) <= 3 and abs(x1 - 1040) <= 3 and abs(y1 - 684) <= 3


def test_lang_picks_the_models(tesseract_server: Any, ocr_http: httpx.Client) -> None:
    """The Chinese notice read with the Korean models is wrong; several langs at once work."""
    zh = general_doc("notice-zh-tw")
    (wrong,) = _send(ocr_http, tesseract_server, zh, lang="ko")["images"]
    assert score_page(zh.pages[0], wrong["fields"]).cer > 0.5
    ja = general_doc("notice-ja")
    (both,) = _send(ocr_http, tesseract_server, ja, lang="ko,ja")["images"]
    assert score_page(ja.pages[0], both["fields"]).cer <= 0.08


def test_blank_page_reads_nothing(tesseract_server: Any, ocr_http: httpx.Client) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (600, 400), "white").save(buffer, "PNG")
    body = ocr_call(ocr_http, tesseract_server, "png", buffer.getvalue(), enableTableDetection=True)
    (image,) = body["images"]
    assert (image["inferResult"], image["fields"], image["tables"]) == ("SUCCESS", [], [])
