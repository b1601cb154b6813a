"""Reading order and ``lineBreak`` of recognised words, and their V2 ``fields``.

Tesseract's own lines (block, paragraph, line) are the unit; lines that sit side by side on the
same visual row (a receipt's item, quantity and amount often come out as separate blocks) are
merged into one row, as CLOVA reports a row: rows top-to-bottom, words left-to-right, and
``lineBreak`` true on the last word of each row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clova_etl.server.engine import box_quad, cell_word, quad_poly, word_field
from clova_etl.server.tesseract.runtime import OcrWord

Box = tuple[float, float, float, float]

# Two lines are on one row when they overlap vertically by this share of the shorter one.
_SAME_ROW = 0.5


def word_box(word: OcrWord) -> Box:
    """The word's box (x0, y0, x1, y1)."""
    return (word.left, word.top, word.right, word.bottom)


def union_box(boxes: Iterable[Box]) -> Box:
    """The smallest box holding every box."""
    items = list(boxes)
    return (
        min(b[0] for b in items),
        min(b[1] for b in items),
        max(b[2] for b in items),
        max(b[3] for b in items),
    )


def _engine_lines(words: list[OcrWord]) -> list[list[OcrWord]]:
    lines: dict[tuple[int, int, int], list[OcrWord]] = {}
    for w in words:
        lines.setdefault((w.block, w.paragraph, w.line), []).append(w)
    return [sorted(line, key=lambda w: w.left) for line in lines.values()]


def _overlap(a: Box, b: Box) -> float:
    """Vertical overlap of two boxes as a share of the shorter one's height."""
    inter = min(a[3], b[3]) - max(a[1], b[1])
    shorter = max(1.0, min(a[3] - a[1], b[3] - b[1]))
    return inter / shorter


def reading_rows(words: list[OcrWord]) -> list[list[OcrWord]]:
    """Words grouped in visual rows, rows top-to-bottom, words left-to-right."""
    lines = sorted(
        _engine_lines(words), key=lambda ln: (union_box(map(word_box, ln))[1], ln[0].left)
    )
    rows: list[tuple[Box, list[Box], list[OcrWord]]] = []  # anchor box, line boxes, words
    for line in lines:
        box = union_box(map(word_box, line))
        for anchor, boxes, row_words in reversed(rows[-4:]):
            side_by_side = all(box[0] >= b[2] or box[2] <= b[0] for b in boxes)
            if side_by_side and _overlap(anchor, box) >= _SAME_ROW:
                boxes.append(box)
                row_words.extend(line)
                break
        else:
            rows.append((box, [box], list(line)))
    rows.sort(key=lambda r: (r[0][1] + r[0][3]) / 2)
    return [sorted(ws, key=lambda w: w.left) for _, _, ws in rows]


def _hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


def join_syllables(words: list[OcrWord], *, max_gap: float = 0.25) -> list[OcrWord]:
    """Words with Hangul syllables that tesseract split apart joined again.

    The ``kor`` model often ends a word after each syllable ("서 울 특별시"); Korean separates
    words with a space, whose gap is wider than a glyph's side bearings, so two Hangul words of
    one engine line closer than ``max_gap`` x their height are one word.
    """
    out: list[OcrWord] = []
    for line in _engine_lines(words):
        current = line[0]
        for w in line[1:]:
            gap = (w.left - current.right) / max(1, current.height, w.height)
            if gap < max_gap and _hangul(current.text[-1]) and _hangul(w.text[0]):
                x0, y0 = min(current.left, w.left), min(current.top, w.top)
                x1, y1 = max(current.right, w.right), max(current.bottom, w.bottom)
                n = len(current.text) + len(w.text)
                conf = (current.confidence * len(current.text) + w.confidence * len(w.text)) / n
                current = OcrWord(
                    current.text + w.text,
                    x0,
                    y0,
                    x1 - x0,
                    y1 - y0,
                    conf,
                    current.block,
                    current.paragraph,
                    current.line,
                )
            else:
                out.append(current)
                current = w
        out.append(current)
    return out


def page_fields(words: list[OcrWord]) -> list[dict[str, Any]]:
    """The General OCR ``fields[]`` of a page's words."""
    fields: list[dict[str, Any]] = []
    for row in reading_rows(words):
        for i, w in enumerate(row):
            quad = box_quad(*word_box(w))
            fields.append(word_field(w.text, quad, w.confidence, line_break=i == len(row) - 1))
    return fields


def text_lines(words: list[OcrWord]) -> list[dict[str, Any]]:
    """Table-cell ``cellTextLines[]`` of the words inside one cell."""
    out = []
    for row in reading_rows(words):
        out.append(
            {
                "cellWords": [cell_word(w.text, box_quad(*word_box(w)), w.confidence) for w in row],
                "boundingPoly": quad_poly(box_quad(*union_box(map(word_box, row)))),
                "inferConfidence": round(min(w.confidence for w in row), 4),
            }
        )
    return out


def joined_text(rows: list[list[OcrWord]], *, separator: str = " ") -> str:
    """Rows of words as one text: words joined by ``separator``, rows by a newline."""
    return "\n".join(separator.join(w.text for w in row) for row in rows)


def inside(word: OcrWord, box: Box) -> bool:
    """Whether the word's centre lies inside ``box``."""
    cx, cy = word.center
    return box[0] <= cx < box[2] and box[1] <= cy < box[3]


def _area(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def new_words(found: list[OcrWord], known: list[OcrWord], *, share: float = 0.5) -> list[OcrWord]:
    """The words of ``found`` not mostly lying on a word of ``known`` (the same ink read
    twice: the second pass sees the edge of a word whose box the first pass drew too tight)."""
    out = []
    for w in found:
        box, size = word_box(w), max(1.0, w.width * w.height)
        if all(_area(box, word_box(k)) < share * size for k in known):
            out.append(w)
    return out


def drop_ghosts(words: list[OcrWord], *, share: float = 0.5) -> list[OcrWord]:
    """The words without "ghost" lines: a less confident word lying mostly on a word of
    another engine line is the same ink read twice (psm 6 reads a large title that way).

    Words of one line may overlap (CJK boxes often do) and are left alone.
    """
    out = []
    for w in words:
        box, size = word_box(w), max(1.0, w.width * w.height)
        key = (w.block, w.paragraph, w.line)
        if all(
            (o.block, o.paragraph, o.line) == key
            or o.confidence <= w.confidence
            or _area(box, word_box(o)) < share * size
            for o in words
        ):
            out.append(w)
    return out
