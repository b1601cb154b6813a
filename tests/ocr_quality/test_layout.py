"""Rulings, ruled tables and checkboxes on drawn pages (no tesseract needed)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from clova_etl.server.tesseract import detect_tables, read_checkbox
from clova_etl.server.tesseract.layout import analyse
from clova_etl.server.tesseract.rulings import find_rulings, gray_array, ink_mask
from tests.ocr_quality.corpus import general_doc


def _page(width: int = 800, height: int = 600) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("L", (width, height), 255)
    return image, ImageDraw.Draw(image)


def _grid(doc: str) -> list[tuple[int, int, int, int]]:
    data = general_doc(doc).data
    (table,) = detect_tables(find_rulings(gray_array(Image.open(io.BytesIO(data)))))
    return [(c.row, c.col, c.row_span, c.col_span) for c in table.cells]


@pytest.mark.parametrize("doc", ["quotation-table", "quotation-table-scan"])
def test_ruled_table_grid_and_spans(doc: str) -> None:
    truth = general_doc(doc).pages[0].cells
    assert sorted(_grid(doc)) == sorted((c.row, c.col, c.row_span, c.col_span) for c in truth)


def test_rules_without_columns_and_single_boxes_are_not_tables() -> None:
    image, draw = _page()
    for y in (100, 160, 400):  # receipt rules
        draw.line([(40, y), (760, y)], fill=0, width=2)
    draw.rectangle((100, 450, 140, 490), outline=0, width=3)  # a checkbox
    for i in range(4):  # a MULTI_BOX row: separate boxes
        draw.rectangle((300 + 60 * i, 450, 350 + 60 * i, 500), outline=0, width=2)
    rulings = find_rulings(gray_array(image))
    assert len(rulings.horizontal) >= 3
    assert detect_tables(rulings) == []


def test_open_sided_table_gets_its_outer_edges() -> None:
    """Horizontal rules and inner column lines only: the rules' ends close the grid."""
    image, draw = _page()
    for y in (100, 160, 220, 280):
        draw.line([(50, y), (750, y)], fill=0, width=2)
    for x in (300, 500):
        draw.line([(x, 100), (x, 280)], fill=0, width=2)
    (table,) = detect_tables(find_rulings(gray_array(image)))
    assert len(table.cells) == 9
    assert {(c.row, c.col) for c in table.cells} == {(r, c) for r in range(3) for c in range(3)}
    x0, _, x1, _ = table.box
    assert abs(x0 - 50) <= 2 and abs(x1 - 749) <= 2


def test_glyph_strokes_are_not_erased() -> None:
    """Only rulings are painted out before reading: a tall 'l'-like stroke stays."""
    image, draw = _page()
    draw.line([(40, 300), (760, 300)], fill=0, width=2)
    draw.line([(400, 100), (400, 160)], fill=0, width=4)  # a 60 px vertical stroke, no frame
    clean = gray_array(analyse(image).clean)
    assert clean[300, 100:700].min() == 255  # the rule is gone
    assert clean[130, 399:402].max() < 128  # the stroke is not


def test_blank_page_has_no_ink() -> None:
    image, _ = _page()
    assert not ink_mask(gray_array(image)).any()
    assert detect_tables(find_rulings(gray_array(image))) == []


def _box(mark: str) -> Image.Image:
    image, draw = _page(120, 120)
    draw.rectangle((40, 40, 84, 84), outline=0, width=3)
    if mark == "cross":
        draw.line([(48, 48), (76, 76)], fill=0, width=4)
        draw.line([(48, 76), (76, 48)], fill=0, width=4)
    elif mark == "tick":
        draw.line([(48, 62), (58, 74), (78, 48)], fill=0, width=4)
    elif mark == "dot":
        draw.point([(62, 62)], fill=0)
    return image


@pytest.mark.parametrize(
    ("mark", "checked"), [("cross", True), ("tick", True), ("empty", False), ("dot", False)]
)
def test_checkbox_by_ink_density(mark: str, checked: bool) -> None:
    reading = read_checkbox(ink_mask(gray_array(_box(mark))), (40, 40, 84, 84))
    assert reading.checked is checked
    assert 0.5 <= reading.confidence <= 1.0
