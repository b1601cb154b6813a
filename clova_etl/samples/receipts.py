"""Receipts: a Korean supermarket receipt (slightly rotated) and an English grocery receipt."""

from __future__ import annotations

from clova_etl.samples.canvas import PageCanvas, rotate_page, truth_words
from clova_etl.samples.fonts import Script, load_font
from clova_etl.samples.model import BuiltSample
from clova_etl.samples.truth import DocumentTruth, TruthPage

Item = tuple[str, str, str]  # name, quantity, amount


def _receipt(
    name: str,
    script: Script,
    header: list[str],
    columns: tuple[str, str, str],
    items: list[Item],
    totals: list[tuple[str, str]],
    footer: list[str],
    *,
    lang: str,
    rotate: float = 0.0,
) -> BuiltSample:
    width, margin = 640, 40
    height = 300 + 44 * (len(header) + len(items) + len(totals) + len(footer))
    page = PageCanvas(width, height, seed=name)
    big, font = load_font(script, 36), load_font(script, 24)
    qty_x, right = 400.0, float(width - margin)
    y = 40.0
    page.line_center(width / 2, y, header[0], big)
    y += 64
    for text in header[1:]:
        page.line(margin, y, text, font)
        y += 40
    y += 8
    page.rule(margin, y, right, y)
    y += 14
    page.line(margin, y, columns[0], font, line_break=False)
    page.line(qty_x, y, columns[1], font, line_break=False)
    page.line_right(right, y, columns[2], font)
    y += 44
    page.rule(margin, y, right, y)
    y += 14
    for item, qty, amount in items:
        page.line(margin, y, item, font, line_break=False)
        page.line(qty_x, y, qty, font, line_break=False)
        page.line_right(right, y, amount, font)
        y += 42
    page.rule(margin, y, right, y)
    y += 14
    for label, amount in totals:
        page.line(margin, y, label, font, line_break=False)
        page.line_right(right, y, amount, font)
        y += 42
    y += 16
    for text in footer:
        page.line_center(width / 2, y, text, font)
        y += 40
    truth_page = TruthPage(width=width, height=height, words=truth_words(page.words))
    image = page.image
    if rotate:
        truth_page, image = rotate_page(truth_page, image, rotate)
    return BuiltSample([image], DocumentTruth(doc_id=name, lang=lang, pages=[truth_page]))


def receipt_ko() -> BuiltSample:
    """A Korean supermarket receipt, rotated 1.5 degrees (skewed quads, like real scans)."""
    return _receipt(
        "receipt-ko",
        "ko",
        [
            "(주) 킹마트",
            "서울특별시 강남구 테헤란로 123",
            "사업자 123-45-67890",
            "2024-03-15 14:32 POS 02",
        ],
        ("상품명", "수량", "금액"),
        [
            ("서울우유 1L", "1", "2,980"),
            ("신라면 5입", "2", "8,600"),
            ("바나나", "1", "3,990"),
            ("생수 2L", "6", "5,400"),
        ],
        [("합계", "20,970"), ("부가세", "1,906"), ("카드결제", "20,970")],
        ["감사합니다"],
        lang="ko",
        rotate=1.5,
    )


def receipt_en() -> BuiltSample:
    """An English grocery receipt (saved as JPEG)."""
    return _receipt(
        "receipt-en",
        "latin",
        [
            "CORNER GROCERY",
            "12 Market Street, Springfield",
            "Tel (555) 010-2030",
            "03/15/2024 09:41",
        ],
        ("Item", "Qty", "Amount"),
        [
            ("Whole Milk 1gal", "1", "4.29"),
            ("Sourdough Bread", "1", "5.49"),
            ("Eggs (dozen)", "2", "7.98"),
            ("Coffee Beans", "1", "12.99"),
        ],
        [("Subtotal", "30.75"), ("Tax 8%", "2.46"), ("TOTAL", "33.21"), ("VISA ****1234", "33.21")],
        ["THANK YOU"],
        lang="ko",
    )
