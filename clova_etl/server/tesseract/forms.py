"""Template OCR: which deployed template a page is, and what each of its regions holds.

Matching compares the page with each candidate template: the page's aspect ratio must be the
template's (within 5 %) and text must be read in the title region — close to ``title.text``
(:data:`TITLE_SIMILARITY`) when the template gives it. The score is then the mean of how much
of the template's printed boxes (MULTI_BOX cells, checkboxes) is found as ink where the
template puts them, and of the title's similarity (1 without ``title.text``). The best template
scoring at least :data:`MATCH_SCORE` wins.
Regions are in the template's pixels and are scaled to the page's.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clova_etl.server.engine import box_quad, quad_poly
from clova_etl.server.tesseract.checkbox import read_checkbox
from clova_etl.server.tesseract.layout import PageLayout
from clova_etl.server.tesseract.patches import read_patches
from clova_etl.server.tesseract.rulings import coverage
from clova_etl.server.tesseract.runtime import OcrWord
from clova_etl.server.tesseract.templates import Box, RegionSpec, TemplateSpec
from clova_etl.server.tesseract.words import inside, joined_text, reading_rows, word_box

MATCH_SCORE = 0.6
# Share of the expected title a reading must get right (OCR slips allowed, another title not).
TITLE_SIMILARITY = 0.5
_ASPECT_TOLERANCE = 0.05
_DIGITS = "0123456789"


@dataclass(frozen=True)
class TemplateMatch:
    """A template matched to a page, and the template-to-page scale."""

    template: TemplateSpec
    score: float
    sx: float
    sy: float

    def scale(self, box: Box) -> Box:
        """A template box in page pixels."""
        return (box[0] * self.sx, box[1] * self.sy, box[2] * self.sx, box[3] * self.sy)


def _squash(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def similarity(expected: str, read: str) -> float:
    """1 - the character error rate of ``read`` against ``expected`` (spaces ignored), >= 0."""
    a, b = _squash(expected), _squash(read)
    if not a:
        return 1.0 if not b else 0.0
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return max(0.0, 1.0 - previous[-1] / len(a))


def _outline(layout: PageLayout, box: Box) -> float:
    """Share of a box's four edges drawn in ink."""
    ink = layout.rulings.ink
    slack = max(3, round(0.004 * max(ink.shape)))
    x0, y0, x1, y1 = box
    edges = (
        coverage(ink, "h", y0, x0, x1, slack=slack),
        coverage(ink, "h", y1, x0, x1, slack=slack),
        coverage(ink, "v", x0, y0, y1, slack=slack),
        coverage(ink, "v", x1, y0, y1, slack=slack),
    )
    return sum(edges) / 4


def _score(layout: PageLayout, words: list[OcrWord], match: TemplateMatch) -> float:
    spec = match.template
    parts: list[float] = []
    boxes = [b for r in spec.regions if r.type == "MULTI_BOX" for b in r.boxes]
    boxes += [r.box for r in spec.regions if r.type == "CHECKBOX"]
    if boxes:
        parts.append(sum(_outline(layout, match.scale(b)) for b in boxes) / len(boxes))
    title = joined_text(reading_rows([w for w in words if inside(w, match.scale(spec.title.box))]))
    if not title.strip():
        return 0.0  # every template has a printed title: no text there, not this template
    if spec.title_text:
        read = similarity(spec.title_text, title)
        if read < TITLE_SIMILARITY:
            return 0.0  # another title printed in the same place: another form
        parts.append(read)
    else:
        parts.append(1.0)
    return sum(parts) / len(parts)


def match_template(
    layout: PageLayout, words: list[OcrWord], candidates: Sequence[TemplateSpec]
) -> TemplateMatch | None:
    """The best-matching candidate template for a page, if any matches."""
    h, w = layout.gray.shape
    best: TemplateMatch | None = None
    for spec in candidates:
        if abs((w / h) / (spec.width / spec.height) - 1.0) > _ASPECT_TOLERANCE:
            continue
        match = TemplateMatch(spec, 0.0, w / spec.width, h / spec.height)
        score = _score(layout, words, match)
        if score >= MATCH_SCORE and (best is None or score > best.score):
            best = TemplateMatch(spec, round(score, 4), match.sx, match.sy)
    return best


def _sub_field(text: str, box: Box, confidence: float, *, line_break: bool) -> dict[str, Any]:
    return {
        "boundingPoly": quad_poly(box_quad(*box)),
        "inferText": text,
        "inferConfidence": round(confidence, 4),
        "lineBreak": line_break,
    }


def _text_region(words: list[OcrWord], box: Box) -> tuple[str, float, list[dict[str, Any]]]:
    rows = reading_rows([w for w in words if inside(w, box)])
    subs = [
        _sub_field(w.text, word_box(w), w.confidence, line_break=i == len(row) - 1)
        for row in rows
        for i, w in enumerate(row)
    ]
    flat = [w for row in rows for w in row]
    confidence = sum(w.confidence for w in flat) / len(flat) if flat else 0.0
    return joined_text(rows), confidence, subs


def _read_boxes(
    layout: PageLayout, boxes: list[Box], langs: str, *, numeric: bool
) -> list[tuple[str, float]]:
    """What is written in each box of a MULTI_BOX region (one tesseract call for all boxes).

    The inside of each box (its printed border cut off) is read as a patch; a NUMERIC region
    is read with the digits-only English model.
    """
    insides = [
        (x0 + 0.1 * (x1 - x0), y0 + 0.1 * (y1 - y0), x1 - 0.1 * (x1 - x0), y1 - 0.1 * (y1 - y0))
        for x0, y0, x1, y1 in boxes
    ]
    config = f"-c tessedit_char_whitelist={_DIGITS}" if numeric else ""
    found = read_patches(
        layout.clean_gray,
        insides,
        "eng" if numeric else langs,
        direction="row",
        psm=7,
        config=config,
    )
    return [
        ("".join(w.text for w in words), sum(w.confidence for w in words) / len(words))
        if words
        else ("", 0.0)
        for words in found
    ]


def _field(
    region: RegionSpec,
    match: TemplateMatch,
    layout: PageLayout,
    words: list[OcrWord],
    langs: str,
) -> dict[str, Any]:
    box = match.scale(region.box)
    out: dict[str, Any] = {
        "name": region.name,
        "valueType": region.value_type,
        "boundingPoly": quad_poly(box_quad(*box)),
        "inferText": "",
        "inferConfidence": 0.0,
        "type": region.type,
    }
    if region.type == "CHECKBOX":
        reading = read_checkbox(layout.rulings.ink, box)
        out["inferConfidence"] = reading.confidence
        out["checked"] = reading.checked
    elif region.type == "MULTI_BOX":
        boxes = [match.scale(b) for b in region.boxes]
        read = _read_boxes(layout, boxes, langs, numeric=region.value_type == "NUMERIC")
        out["inferText"] = "".join(t for t, _ in read)
        filled = [c for t, c in read if t]
        out["inferConfidence"] = round(sum(filled) / len(filled), 4) if filled else 0.0
        out["subFields"] = [
            _sub_field(t, b, c, line_break=False) for (t, c), b in zip(read, boxes, strict=True)
        ]
    else:
        text, confidence, subs = _text_region(words, box)
        out["inferText"], out["inferConfidence"] = text, round(confidence, 4)
        if subs:
            out["subFields"] = subs
    return out


def form_result(
    match: TemplateMatch, layout: PageLayout, words: list[OcrWord], langs: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``title`` and ``fields[]`` of a page matched to a template."""
    spec = match.template
    box = match.scale(spec.title.box)
    text, confidence, subs = _text_region(words, box)
    title: dict[str, Any] = {
        "name": spec.title.name,
        "boundingPoly": quad_poly(box_quad(*box)),
        "inferText": text,
        "inferConfidence": round(confidence, 4),
    }
    if subs:
        title["subFields"] = subs
    fields = [_field(r, match, layout, words, langs) for r in spec.regions]
    return title, fields
