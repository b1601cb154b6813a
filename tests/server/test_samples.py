"""The sample generator: deterministic files whose embedded truth is what was drawn."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from clova_etl.formats import SourceFormat, page_count, sniff_format
from clova_etl.samples import (
    CLAIM_FORM,
    SAMPLE_SPECS,
    DocumentTruth,
    FontNotFoundError,
    build_sample,
    embed_truth,
    extract_truth,
    find_font,
)
from clova_etl.samples import fonts as fonts_module
from clova_etl.samples.truth import TruthPage, TruthWord, decode_truth, encode_truth

EXPECTED_PAGES = {"contract-3p": 3, "fax-2p": 2}


def _truth(path: Path) -> DocumentTruth:
    data = path.read_bytes()
    fmt = sniff_format(data)
    assert fmt is not None
    truth = extract_truth(data, fmt)
    assert truth is not None
    return truth


@pytest.mark.parametrize("name", sorted(SAMPLE_SPECS))
def test_sample_is_deterministic_and_carries_its_truth(
    sample_docs: dict[str, Path], name: str
) -> None:
    path = sample_docs[name]
    data = path.read_bytes()
    assert build_sample(name) == data  # same bytes every run: stable request ids
    spec = SAMPLE_SPECS[name]
    assert sniff_format(data) == spec.format
    truth = _truth(path)
    assert truth.doc_id == name
    assert page_count(data, spec.format) == len(truth.pages) == EXPECTED_PAGES.get(name, 1)
    for page in truth.pages:
        assert page.words
        for word in page.words:
            assert word.text.strip() == word.text and word.text
            assert 0.85 <= word.confidence < 1.0
            for x, y in word.quad:
                assert 0 <= x <= page.width and 0 <= y <= page.height


@pytest.mark.parametrize("name", ["receipt-en", "invoice-table", "claim-form", "notice-zh-tw"])
def test_word_boxes_hold_ink(sample_docs: dict[str, Path], name: str) -> None:
    path = sample_docs[name]
    truth = _truth(path)
    with Image.open(path) as im:
        grey = im.convert("L")
    for word in truth.pages[0].words:
        xs = [p[0] for p in word.quad]
        ys = [p[1] for p in word.quad]
        crop = grey.crop((int(min(xs)), int(min(ys)), int(max(xs)) + 1, int(max(ys)) + 1))
        lo = crop.getextrema()[0]
        assert isinstance(lo, int) and lo < 128, f"no ink under {word.text!r}"


def test_pdf_page_size_matches_truth_at_144_dpi(sample_docs: dict[str, Path]) -> None:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(sample_docs["contract-3p"].read_bytes())
    try:
        sizes = [pdf[i].get_size() for i in range(len(pdf))]
    finally:
        pdf.close()
    assert sizes == [(595.0, 842.0)] * 3


def test_scripts(sample_docs: dict[str, Path]) -> None:
    ja = " ".join(w.text for w in _truth(sample_docs["notice-ja"]).pages[0].words)
    zh = " ".join(w.text for w in _truth(sample_docs["notice-zh-tw"]).pages[0].words)
    ko = " ".join(w.text for w in _truth(sample_docs["receipt-ko"]).pages[0].words)
    assert "お知らせ" in ja and "営業時間を" in ja
    assert "營業" in zh and "臺北市" in zh  # traditional characters
    assert "킹마트" in ko and "합계" in ko


def test_invoice_table_truth(sample_docs: dict[str, Path]) -> None:
    page = _truth(sample_docs["invoice-table"]).pages[0]
    (table,) = page.tables
    cells = {(c.row, c.col): c for c in table.cells}
    assert cells[(1, 0)].row_span == 2
    assert cells[(4, 0)].col_span == 4
    assert cells[(3, 3)].lines == [] and cells[(3, 3)].confidence == 1.0
    assert [[w.text for w in line.words] for line in cells[(3, 1)].lines] == [
        ["무선", "마우스"],
        ["블루투스", "5.0"],
    ]
    # Every word of the table is also a page word.
    page_words = {(w.text, w.quad) for w in page.words}
    for cell in table.cells:
        for line in cell.lines:
            for w in line.words:
                assert (w.text, w.quad) in page_words


def test_claim_form_truth_follows_the_template(sample_docs: dict[str, Path]) -> None:
    truth = _truth(sample_docs["claim-form"])
    assert truth.template is not None
    assert (truth.template.id, truth.template.name) == (1001, "claim-form")
    page = truth.pages[0]
    assert (page.width, page.height) == (CLAIM_FORM.width, CLAIM_FORM.height)
    assert page.title is not None and page.title.text == "보험금 청구서"
    by_name = {f.name: f for f in page.fields}
    assert list(by_name) == [r.name for r in CLAIM_FORM.regions]
    for region in CLAIM_FORM.regions:
        x0, y0, x1, y1 = region.box
        assert by_name[region.name].quad == ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
        assert by_name[region.name].type == region.type
    claim = by_name["claim-no"]
    assert claim.text == "102831" and len(claim.sub_fields) == 6
    assert [by_name[n].checked for n in ("fax-checkbox", "email-checkbox")] == [True, False]


def test_templates_json(sample_dir: Path) -> None:
    doc = json.loads((sample_dir / "templates.json").read_text(encoding="utf-8"))
    (template,) = doc["templates"]
    assert (template["id"], template["name"]) == (1001, "claim-form")
    assert template["page"] == {"width": 1000, "height": 1300}
    regions = {r["name"]: r for r in template["regions"]}
    assert regions["claim-no"]["type"] == "MULTI_BOX"
    assert regions["claim-no"]["boxCount"] == len(regions["claim-no"]["boxes"]) == 6
    assert [r["type"] for r in template["regions"]].count("CHECKBOX") == 2
    assert regions["name"]["type"] == "NORMAL"
    assert template["title"]["box"] == [200, 50, 800, 130]


def _tiny() -> tuple[list[Image.Image], DocumentTruth]:
    word = TruthWord(text="hi", quad=((1, 1), (9, 1), (9, 5), (1, 5)), confidence=0.9)
    page = TruthPage(width=20, height=10, words=[word])
    return [Image.new("RGB", (20, 10), "white")], DocumentTruth(doc_id="tiny", pages=[page])


@pytest.mark.parametrize("fmt", ["png", "jpg", "tiff", "pdf"])
def test_embed_extract_round_trip(fmt: SourceFormat) -> None:
    pages, truth = _tiny()
    data = embed_truth(pages, truth, fmt)
    assert sniff_format(data) == fmt
    assert extract_truth(data, fmt) == truth


def test_foreign_or_damaged_truth_is_none() -> None:
    plain = io.BytesIO()
    Image.new("RGB", (4, 4)).save(plain, "PNG")
    assert extract_truth(plain.getvalue(), "png") is None
    assert extract_truth(b"not an image", "png") is None
    assert extract_truth(b"%PDF-1.4 nothing", "pdf") is None
    payload = encode_truth(_tiny()[1])
    assert decode_truth(payload) == _tiny()[1]
    assert decode_truth(payload[:-8]) is None
    assert decode_truth("something else") is None


def test_embed_checks_page_counts() -> None:
    pages, truth = _tiny()
    with pytest.raises(ValueError, match="exactly one page"):
        embed_truth(pages * 2, truth.model_copy(update={"pages": truth.pages * 2}), "png")
    with pytest.raises(ValueError, match="describes 1"):
        embed_truth(pages * 2, truth, "pdf")


def test_missing_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # A machine without the fonts cannot be produced otherwise: hide them.
    monkeypatch.setattr(fonts_module, "_CJK_TTC", (Path("/nonexistent/cjk.ttc"),))
    monkeypatch.setattr(fonts_module, "_fc_match", lambda family: None)
    find_font.cache_clear()
    try:
        with pytest.raises(FontNotFoundError, match="fonts-noto-cjk"):
            find_font("ko")
    finally:
        find_font.cache_clear()
