"""Scoring an OCR answer against the drawn truth: character error rate, word accuracy, cells.

Matching is by place, not by order, so that a reading-order difference is not counted as a
recognition error: every recognised word goes to the drawn word its box overlaps most (none →
an insertion, all its characters are errors). Then, per drawn row, the recognised words of the
row (left to right) are compared with the drawn text by edit distance, both NFKC-normalised and
without spaces (tesseract splits CJK words where the drawing has none, and the reverse).

- CER = (edit distance over all rows + inserted characters) / drawn characters.
- Word accuracy = share of drawn words whose recognised words, joined, equal them exactly
  (spaces matter here: a Hangul word read as two syllable words is wrong).
- Cell accuracy = share of drawn cells found at the same row, column and spans with the same
  text (spaces ignored).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tests.ocr_quality.corpus import QualityPage, TruthCell

Box = tuple[float, float, float, float]


def squash(text: str) -> str:
    """Text NFKC-normalised, without whitespace."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def poly_box(poly: dict[str, Any]) -> Box:
    """The axis-aligned box of a ``boundingPoly``."""
    xs = [float(v["x"]) for v in poly["vertices"]]
    ys = [float(v["y"]) for v in poly["vertices"]]
    return (min(xs), min(ys), max(xs), max(ys))


def _area(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


@dataclass
class TextScore:
    """Character and word counts of one or more pages."""

    chars: int = 0
    char_errors: int = 0
    words: int = 0
    words_ok: int = 0

    @property
    def cer(self) -> float:
        """Character error rate."""
        return self.char_errors / self.chars if self.chars else 0.0

    @property
    def word_accuracy(self) -> float:
        """Share of drawn words read exactly."""
        return self.words_ok / self.words if self.words else 1.0

    def __add__(self, other: TextScore) -> TextScore:
        return TextScore(
            self.chars + other.chars,
            self.char_errors + other.char_errors,
            self.words + other.words,
            self.words_ok + other.words_ok,
        )


def score_page(page: QualityPage, fields: Iterable[dict[str, Any]]) -> TextScore:
    """Score the ``fields[]`` of one page against the words drawn on it."""
    truth = [(r, w) for r, row in enumerate(page.rows) for w in row]
    got: dict[int, list[tuple[float, str]]] = {i: [] for i in range(len(truth))}
    inserted = 0
    for f in fields:
        box = poly_box(f["boundingPoly"])
        overlaps = [_area(box, w.box) for _, w in truth]
        best = max(range(len(truth)), key=overlaps.__getitem__) if truth else -1
        if best < 0 or overlaps[best] <= 0:
            inserted += len(squash(f["inferText"]))
            continue
        got[best].append((box[0], f["inferText"]))
    score = TextScore(char_errors=inserted)
    for r in range(len(page.rows)):
        indexes = [i for i, (tr, _) in enumerate(truth) if tr == r]
        ref = squash("".join(truth[i][1].text for i in indexes))
        # Words of one row may be attributed to a neighbour word of the same row: compare rows.
        hyp = squash("".join(t for _, t in sorted(x for i in indexes for x in got[i])))
        score.chars += len(ref)
        score.char_errors += edit_distance(ref, hyp)
        for i in indexes:
            score.words += 1
            read = " ".join(t for _, t in sorted(got[i]))
            score.words_ok += unicodedata.normalize("NFKC", read) == unicodedata.normalize(
                "NFKC", truth[i][1].text
            )
    return score


@dataclass
class CellScore:
    """Table cells found with the right place and spans, and with the right text too."""

    cells: int = 0
    structure_ok: int = 0
    text_ok: int = 0

    @property
    def structure_accuracy(self) -> float:
        """Share of drawn cells found at the right row, column and spans."""
        return self.structure_ok / self.cells if self.cells else 1.0

    @property
    def accuracy(self) -> float:
        """Share of drawn cells found at the right place with the right text."""
        return self.text_ok / self.cells if self.cells else 1.0


def cell_text(cell: dict[str, Any]) -> str:
    """A ``tables[].cells[]`` entry's text, lines joined by a space."""
    return " ".join(
        " ".join(w["inferText"] for w in line["cellWords"]) for line in cell["cellTextLines"]
    )


def score_cells(truth: list[TruthCell], tables: list[dict[str, Any]]) -> CellScore:
    """Score the answer's tables against the drawn cells (the best-matching table is used)."""
    best = CellScore(cells=len(truth))
    for table in tables:
        found = {
            (c["rowIndex"], c["columnIndex"], c["rowSpan"], c["columnSpan"]): cell_text(c)
            for c in table["cells"]
        }
        score = CellScore(cells=len(truth))
        for cell in truth:
            key = (cell.row, cell.col, cell.row_span, cell.col_span)
            if key in found:
                score.structure_ok += 1
                score.text_ok += squash(found[key]) == squash(cell.text)
        if (score.text_ok, score.structure_ok) > (best.text_ok, best.structure_ok):
            best = score
    return best
