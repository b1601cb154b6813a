"""A page to draw on that records what it draws: every word with its real ink box.

The truth is built FROM the rendering: a word's quad is the bounding box Pillow reports for
the glyphs just drawn, and a rotated page rotates the quads with the pixels.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont

from clova_etl.samples.truth import (
    Quad,
    TruthCell,
    TruthCellLine,
    TruthField,
    TruthPage,
    TruthSubField,
    TruthTable,
    TruthWord,
)

Box = tuple[float, float, float, float]
Font = ImageFont.FreeTypeFont
INK = (20, 20, 24)
RULE = (40, 40, 40)


def box_quad(box: Box) -> Quad:
    """The clockwise quad of a box, from its top-left corner."""
    x0, y0, x1, y1 = box
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def union(boxes: list[Box]) -> Box:
    """The smallest box holding every box."""
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


@dataclass
class DrawnWord:
    """A word as drawn (axis-aligned box in the unrotated page)."""

    text: str
    box: Box
    confidence: float
    line_break: bool = False


@dataclass
class PageCanvas:
    """A white page, its drawing context and the words drawn on it, in order."""

    width: int
    height: int
    seed: str
    image: Image.Image = field(init=False)
    draw: ImageDraw.ImageDraw = field(init=False)
    words: list[DrawnWord] = field(default_factory=list, init=False)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.image = Image.new("RGB", (self.width, self.height), "white")
        self.draw = ImageDraw.Draw(self.image)
        # Confidences are part of the truth: derive them from the sample name, not the clock.
        self._rng = random.Random(zlib.crc32(self.seed.encode("utf-8")))  # noqa: S311

    def confidence(self) -> float:
        """A plausible, reproducible recognition confidence."""
        return round(0.86 + 0.1399 * self._rng.random(), 4)

    def word(self, x: float, y: float, text: str, font: Font, *, record: bool = True) -> DrawnWord:
        """Draw one word with its top-left at (x, y); record it as a page word."""
        self.draw.text((x, y), text, font=font, fill=INK)
        box = self.draw.textbbox((x, y), text, font=font)
        drawn = DrawnWord(text, (box[0], box[1], box[2], box[3]), self.confidence())
        if record:
            self.words.append(drawn)
        return drawn

    def line(
        self, x: float, y: float, text: str, font: Font, *, line_break: bool = True
    ) -> list[DrawnWord]:
        """Draw a line of space-separated words from (x, y); the last one ends the line."""
        space = font.getlength(" ")
        drawn: list[DrawnWord] = []
        for part in text.split(" "):
            if not part:
                x += space
                continue
            word = self.word(x, y, part, font)
            drawn.append(word)
            x += font.getlength(part) + space
        if drawn:
            drawn[-1].line_break = line_break
        return drawn

    def line_right(
        self, x_right: float, y: float, text: str, font: Font, *, line_break: bool = True
    ) -> list[DrawnWord]:
        """Draw a line whose right edge is at ``x_right``."""
        return self.line(x_right - font.getlength(text), y, text, font, line_break=line_break)

    def line_center(
        self, x_center: float, y: float, text: str, font: Font, *, line_break: bool = True
    ) -> list[DrawnWord]:
        """Draw a line centred on ``x_center``."""
        return self.line(x_center - font.getlength(text) / 2, y, text, font, line_break=line_break)

    def rule(self, x0: float, y0: float, x1: float, y1: float, width: int = 2) -> None:
        """Draw a straight rule."""
        self.draw.line([(x0, y0), (x1, y1)], fill=RULE, width=width)

    def rect(self, box: Box, width: int = 2) -> None:
        """Draw a rectangle outline."""
        self.draw.rectangle(box, outline=RULE, width=width)


def truth_words(words: list[DrawnWord]) -> list[TruthWord]:
    """Drawn words as truth words."""
    return [
        TruthWord(
            text=w.text, quad=box_quad(w.box), confidence=w.confidence, line_break=w.line_break
        )
        for w in words
    ]


def cell_line(words: list[DrawnWord]) -> TruthCellLine:
    """A table-cell text line from the words drawn on it."""
    return TruthCellLine(
        words=[
            TruthWord(text=w.text, quad=box_quad(w.box), confidence=w.confidence) for w in words
        ],
        quad=box_quad(union([w.box for w in words])),
        confidence=round(min(w.confidence for w in words), 4),
    )


def table_cell(
    row: int,
    col: int,
    box: Box,
    lines: list[list[DrawnWord]],
    *,
    row_span: int = 1,
    col_span: int = 1,
) -> TruthCell:
    """A table cell (an empty cell has no lines and confidence 1.0, as the service answers)."""
    truth_lines = [cell_line(line) for line in lines if line]
    confidence = (
        round(sum(line.confidence for line in truth_lines) / len(truth_lines), 4)
        if truth_lines
        else 1.0
    )
    return TruthCell(
        row=row,
        col=col,
        row_span=row_span,
        col_span=col_span,
        quad=box_quad(box),
        confidence=confidence,
        lines=truth_lines,
    )


def table(box: Box, cells: list[TruthCell]) -> TruthTable:
    """A table from its outer box and cells."""
    filled = [c.confidence for c in cells if c.lines]
    confidence = round(sum(filled) / len(filled), 4) if filled else 1.0
    return TruthTable(quad=box_quad(box), confidence=confidence, cells=cells)


def sub_fields(words: list[DrawnWord]) -> list[TruthSubField]:
    """Template sub-fields, one per drawn word."""
    return [
        TruthSubField(
            text=w.text, quad=box_quad(w.box), confidence=w.confidence, line_break=w.line_break
        )
        for w in words
    ]


def joined_text(words: list[DrawnWord], *, separator: str = " ") -> str:
    """Words joined as the service joins a template field: newline at a line break."""
    out = ""
    for i, w in enumerate(words):
        out += w.text
        if i < len(words) - 1:
            out += "\n" if w.line_break else separator
    return out


def template_field(
    name: str,
    box: Box,
    words: list[DrawnWord],
    *,
    value_type: str = "ALL",
    multi_box: bool = False,
) -> TruthField:
    """A NORMAL or MULTI_BOX template field read from the words drawn in its region."""
    conf = round(sum(w.confidence for w in words) / len(words), 4) if words else 0.0
    return TruthField(
        name=name,
        value_type=value_type,
        type="MULTI_BOX" if multi_box else "NORMAL",
        text=joined_text(words, separator="" if multi_box else " "),
        quad=box_quad(box),
        confidence=conf,
        sub_fields=sub_fields(words),
    )


def rotate_page(
    page: TruthPage, image: Image.Image, degrees: float
) -> tuple[TruthPage, Image.Image]:
    """Rotate a drawn page counter-clockwise, the truth's quads with it (skewed quads)."""
    if page.fields or page.title is not None:
        raise ValueError("template pages are not rotated (their regions are axis-aligned)")
    rotated = image.rotate(
        degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor="white"
    )
    theta = math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    cx, cy = image.width / 2, image.height / 2
    ncx, ncy = rotated.width / 2, rotated.height / 2

    def move(quad: Quad) -> Quad:
        pts = [
            (
                round(ncx + cos * (x - cx) + sin * (y - cy), 2),
                round(ncy - sin * (x - cx) + cos * (y - cy), 2),
            )
            for x, y in quad
        ]
        return (pts[0], pts[1], pts[2], pts[3])

    words = [w.model_copy(update={"quad": move(w.quad)}) for w in page.words]
    tables = [
        t.model_copy(
            update={
                "quad": move(t.quad),
                "cells": [
                    c.model_copy(
                        update={
                            "quad": move(c.quad),
                            "lines": [
                                line.model_copy(
                                    update={
                                        "quad": move(line.quad),
                                        "words": [
                                            w.model_copy(update={"quad": move(w.quad)})
                                            for w in line.words
                                        ],
                                    }
                                )
                                for line in c.lines
                            ],
                        }
                    )
                    for c in t.cells
                ],
            }
        )
        for t in page.tables
    ]
    new_page = page.model_copy(
        update={"width": rotated.width, "height": rotated.height, "words": words, "tables": tables}
    )
    return new_page, rotated
