"""An invoice with a ruled table: a row span, a column span, an empty and a multi-line cell."""

from __future__ import annotations

from dataclasses import dataclass

from clova_etl.samples.canvas import (
    Box,
    DrawnWord,
    PageCanvas,
    table,
    table_cell,
    truth_words,
)
from clova_etl.samples.fonts import load_font
from clova_etl.samples.model import BuiltSample
from clova_etl.samples.truth import DocumentTruth, TruthCell, TruthPage


@dataclass(frozen=True)
class _Cell:
    row: int
    col: int
    lines: tuple[str, ...]
    row_span: int = 1
    col_span: int = 1
    align_right: bool = False


_COLS = (60.0, 220.0, 600.0, 720.0, 880.0, 1080.0)  # column edges
_ROWS = (330.0, 384.0, 444.0, 504.0, 594.0, 654.0)  # row edges (row 3 holds two lines)
_CELLS = (
    _Cell(0, 0, ("구분",)),
    _Cell(0, 1, ("품목",)),
    _Cell(0, 2, ("수량",)),
    _Cell(0, 3, ("단가",)),
    _Cell(0, 4, ("금액",)),
    _Cell(1, 0, ("사무용품",), row_span=2),
    _Cell(1, 1, ("A4 복사용지",)),
    _Cell(1, 2, ("10",), align_right=True),
    _Cell(1, 3, ("25,000",), align_right=True),
    _Cell(1, 4, ("250,000",), align_right=True),
    _Cell(2, 1, ("볼펜 세트",)),
    _Cell(2, 2, ("5",), align_right=True),
    _Cell(2, 3, ("12,000",), align_right=True),
    _Cell(2, 4, ("60,000",), align_right=True),
    _Cell(3, 0, ("전산",)),
    _Cell(3, 1, ("무선 마우스", "블루투스 5.0")),
    _Cell(3, 2, ("3",), align_right=True),
    _Cell(3, 3, ()),  # the unit price was left blank
    _Cell(3, 4, ("90,000",), align_right=True),
    _Cell(4, 0, ("합계",), col_span=4),
    _Cell(4, 4, ("400,000",), align_right=True),
)


def invoice_table() -> BuiltSample:
    """A Korean invoice (거래명세서) with one ruled 5x5 table."""
    width, height = 1140, 860
    page = PageCanvas(width, height, seed="invoice-table")
    title, font = load_font("ko", 44), load_font("ko", 24)
    page.line_center(width / 2, 50, "거래명세서 INVOICE", title)
    page.line(60, 150, "No. INV-2024-0042", font, line_break=False)
    page.line_right(1080, 150, "발행일 2024-03-15", font)
    page.line(60, 196, "공급받는자 한빛상사 귀하", font, line_break=False)
    page.line_right(1080, 196, "공급자 (주) 킹마트", font)
    page.line(60, 262, "아래와 같이 청구합니다.", font)

    cells: list[TruthCell] = []
    for spec in _CELLS:
        box: Box = (
            _COLS[spec.col],
            _ROWS[spec.row],
            _COLS[spec.col + spec.col_span],
            _ROWS[spec.row + spec.row_span],
        )
        page.rect(box)
        lines: list[list[DrawnWord]] = []
        for i, text in enumerate(spec.lines):
            y = box[1] + 12 + 36 * i
            last = i == len(spec.lines) - 1
            # Every cell ends a line of the page's reading order only at the row's last column.
            line_break = (last and spec.col + spec.col_span == len(_COLS) - 1) or not last
            if spec.align_right:
                lines.append(page.line_right(box[2] - 14, y, text, font, line_break=line_break))
            else:
                lines.append(page.line(box[0] + 14, y, text, font, line_break=line_break))
        cells.append(
            table_cell(
                spec.row, spec.col, box, lines, row_span=spec.row_span, col_span=spec.col_span
            )
        )
    outer: Box = (_COLS[0], _ROWS[0], _COLS[-1], _ROWS[-1])
    page.rect(outer, width=3)

    page.line(60, 700, "입금계좌 국민은행 123-456-789012 (주) 킹마트", font)
    page.line(60, 746, "문의 02-555-1234", font)
    truth_page = TruthPage(
        width=width,
        height=height,
        words=truth_words(page.words),
        tables=[table(outer, cells)],
    )
    return BuiltSample([page.image], DocumentTruth(doc_id="invoice-table", pages=[truth_page]))
