"""The template file format and template matching on drawn pages (no tesseract needed)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from clova_etl.samples import CLAIM_FORM, write_templates
from clova_etl.server.tesseract import (
    OcrWord,
    TemplateFileError,
    load_template_file,
    match_template,
    parse_templates,
    sample_templates,
)
from clova_etl.server.tesseract.layout import analyse
from tests.ocr_quality.corpus import DELIVERY_ID, delivery_note, delivery_template_json


def test_the_samples_template_file_loads(tmp_path: Path) -> None:
    """What `clova-etl samples` writes is what the engine reads, boxes included."""
    (spec,) = load_template_file(write_templates(tmp_path / "templates.json"))
    assert spec == sample_templates()[0]
    assert (spec.id, spec.name, spec.width, spec.height) == (1001, "claim-form", 1000, 1300)
    assert spec.title_text == "보험금 청구서"
    kinds = {r.name: r.type for r in spec.regions}
    assert kinds["claim-no"] == "MULTI_BOX" and kinds["fax-checkbox"] == "CHECKBOX"
    claim = next(r for r in spec.regions if r.name == "claim-no")
    expected = next(r for r in CLAIM_FORM.regions if r.name == "claim-no").boxes()
    assert [tuple(int(v) for v in b) for b in claim.boxes] == expected


def test_box_count_without_boxes_splits_the_region() -> None:
    doc = delivery_template_json()
    del doc["regions"][1]["boxes"]
    (spec,) = parse_templates({"templates": [doc]})
    region = spec.regions[1]
    assert len(region.boxes) == 8
    assert region.boxes[0][0] == region.box[0] and region.boxes[-1][2] == region.box[2]
    assert spec.title_text == "배송 확인서"


def _broken(change: Any) -> dict[str, Any]:
    doc = delivery_template_json()
    change(doc)
    return {"templates": [doc]}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"version": 1}, "'templates' list"),
        (_broken(lambda d: d.pop("id")), "'id' must be an integer"),
        (_broken(lambda d: d.update(page={"width": 0, "height": 5})), "must be positive"),
        (_broken(lambda d: d["regions"][0].update(box=[5, 5, 1, 9])), r"\('recipient'\): 'box'"),
        (_broken(lambda d: d["regions"][0].update(type="RADIO")), "'type' must be one of"),
        (
            _broken(lambda d: (d["regions"][1].pop("boxes"), d["regions"][1].pop("boxCount"))),
            "MULTI_BOX needs 'boxCount'",
        ),
        (_broken(lambda d: d["title"].update(text=5)), "'text' must be a string"),
        ({"templates": [delivery_template_json()] * 2}, "ids must be unique"),
    ],
)
def test_bad_template_files_say_what_is_wrong(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateFileError, match=message):
        parse_templates(doc)


def test_unreadable_template_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(TemplateFileError, match="cannot read template file"):
        load_template_file(path)
    path.write_text(json.dumps({"templates": [{"id": "x"}]}), encoding="utf-8")
    with pytest.raises(TemplateFileError, match=r"t\.json: templates\[0\]: 'id'"):
        load_template_file(path)


def _title_words(text: str, sx: float = 1.0, sy: float = 1.0) -> list[OcrWord]:
    # What the page pass would have read in the title region (250..750, 30..110).
    return [OcrWord(text, round(380 * sx), round(45 * sy), round(240 * sx), round(50 * sy), 0.9)]


def _note(scale: float = 1.0) -> Image.Image:
    image = Image.open(io.BytesIO(delivery_note())).convert("RGB")
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    return image


def test_matching_uses_boxes_and_title_text() -> None:
    (spec,) = parse_templates({"templates": [delivery_template_json()]})
    layout = analyse(_note())
    match = match_template(layout, _title_words("배송 확인서"), [spec])
    assert match is not None and match.template.id == DELIVERY_ID
    assert match.score > 0.9 and (match.sx, match.sy) == (1.0, 1.0)
    assert match_template(layout, _title_words("세금 계산서"), [spec]) is None
    assert match_template(layout, [], [spec]) is None  # nothing in the title region


def test_matching_scales_a_page_rendered_at_another_size() -> None:
    (spec,) = parse_templates({"templates": [delivery_template_json()]})
    match = match_template(analyse(_note(1.5)), _title_words("배송 확인서", 1.5, 1.5), [spec])
    assert match is not None
    assert match.scale((300, 480, 340, 520)) == (450, 720, 510, 780)


def test_matching_rejects_another_page_shape() -> None:
    claim = sample_templates()[0]  # 1000 x 1300: the note is 1000 x 700
    assert match_template(analyse(_note()), _title_words("배송 확인서"), [claim]) is None


def test_matching_needs_the_printed_boxes() -> None:
    """The right title on a page without the template's boxes is not the template."""
    (spec,) = parse_templates({"templates": [delivery_template_json()]})
    blank = analyse(Image.new("RGB", (1000, 700), "white"))
    assert match_template(blank, _title_words("배송 확인서"), [spec]) is None
