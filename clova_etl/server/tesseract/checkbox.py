"""Whether a checkbox is ticked, from the share of ink inside it."""

from __future__ import annotations

from dataclasses import dataclass

from clova_etl.server.tesseract.rulings import BoolArray

Box = tuple[float, float, float, float]

# Share of inked pixels inside the box (border excluded) above which it counts as ticked: a tick
# or a cross covers 15-40 % of a small box, scanner dust and a faint border well under 5 %.
CHECKED_DENSITY = 0.08
# Part of the box cut off on every side so that the printed border is not counted as a mark.
_INSET = 0.18


@dataclass(frozen=True)
class CheckboxReading:
    """The ink density found inside a box and what it means."""

    density: float
    checked: bool
    confidence: float


def read_checkbox(
    ink: BoolArray, box: Box, *, threshold: float = CHECKED_DENSITY
) -> CheckboxReading:
    """Measure the ink inside ``box`` (page pixels) and decide whether it is ticked."""
    h, w = ink.shape
    dx, dy = (box[2] - box[0]) * _INSET, (box[3] - box[1]) * _INSET
    x0, y0 = max(0, round(box[0] + dx)), max(0, round(box[1] + dy))
    x1, y1 = min(w, round(box[2] - dx)), min(h, round(box[3] - dy))
    if x1 <= x0 or y1 <= y0:
        return CheckboxReading(0.0, False, 0.0)
    density = float(ink[y0:y1, x0:x1].mean())
    checked = density >= threshold
    # Far from the threshold on either side is a confident reading; at the threshold, a coin toss.
    margin = abs(density - threshold) / threshold
    return CheckboxReading(round(density, 4), checked, round(min(1.0, 0.5 + 0.5 * margin), 4))
