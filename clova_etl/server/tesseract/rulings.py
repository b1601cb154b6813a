"""Ruling lines of a page (table borders, rules, boxes) found with numpy alone.

A pixel belongs to a horizontal ruling when it lies on a run of ink at least ``min_length``
pixels long in its row (vertical likewise, in its column); runs on neighbouring rows merge into
one :class:`Segment`, so a thick or slightly skewed line is one segment. Text strokes are far
shorter than the minimum length, so they are not rulings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

BoolArray = npt.NDArray[np.bool_]
Orientation = Literal["h", "v"]

# Rows (columns) a line may skip and still be one segment (anti-aliasing, JPEG noise).
_ROW_GAP = 2


@dataclass(frozen=True)
class Segment:
    """A straight ruling: its pixel box (end-exclusive) and its orientation."""

    orientation: Orientation
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def position(self) -> float:
        """Where the line is across its length (y of a horizontal line, x of a vertical one)."""
        if self.orientation == "h":
            return (self.y0 + self.y1 - 1) / 2
        return (self.x0 + self.x1 - 1) / 2

    @property
    def thickness(self) -> int:
        """Extent across the line, in pixels."""
        return self.y1 - self.y0 if self.orientation == "h" else self.x1 - self.x0

    @property
    def length(self) -> int:
        """Extent along the line, in pixels."""
        return self.x1 - self.x0 if self.orientation == "h" else self.y1 - self.y0

    @property
    def start(self) -> int:
        """First pixel along the line."""
        return self.x0 if self.orientation == "h" else self.y0

    @property
    def end(self) -> int:
        """Last pixel along the line, exclusive."""
        return self.x1 if self.orientation == "h" else self.y1


@dataclass(frozen=True)
class Rulings:
    """The ink mask of a page and the ruling segments found on it."""

    ink: BoolArray
    horizontal: tuple[Segment, ...]
    vertical: tuple[Segment, ...]


def gray_array(image: Image.Image) -> npt.NDArray[np.uint8]:
    """The page as an 8-bit grey array."""
    return np.asarray(image.convert("L"), dtype=np.uint8)


def ink_mask(gray: npt.NDArray[np.uint8]) -> BoolArray:
    """Dark pixels, split from paper by Otsu's threshold (capped so paper grain stays paper)."""
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    if total == 0 or int(gray.max()) - int(gray.min()) < 48:
        return np.zeros(gray.shape, dtype=np.bool_)  # a blank (or uniformly dark) page
    levels = np.arange(256, dtype=np.float64)
    weight = np.cumsum(hist)
    mass = np.cumsum(hist * levels)
    background = total - weight
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mass[-1] * weight - mass * total) ** 2 / (weight * background)
    between[~np.isfinite(between)] = 0.0
    threshold = min(int(np.argmax(between)), 200)
    return gray <= threshold


def _run_cover(mask: BoolArray, length: int) -> BoolArray:
    """Pixels lying on a horizontal run of True at least ``length`` long."""
    h, w = mask.shape
    if length > w:
        return np.zeros_like(mask)
    csum = np.zeros((h, w + 1), dtype=np.int32)
    np.cumsum(mask, axis=1, dtype=np.int32, out=csum[:, 1:])
    full = (csum[:, length:] - csum[:, :-length]) == length  # window starting at j is all ink
    starts = np.zeros((h, full.shape[1] + 1), dtype=np.int32)
    np.cumsum(full, axis=1, dtype=np.int32, out=starts[:, 1:])
    cols = np.arange(w)
    lo = np.clip(cols - length + 1, 0, full.shape[1])
    hi = np.clip(cols + 1, 0, full.shape[1])
    result: BoolArray = (starts[:, hi] - starts[:, lo]) > 0
    return result


def _bridge(mask: BoolArray) -> BoolArray:
    """The mask thickened by one pixel across the rows, so that a slightly skewed or broken
    line still makes long runs."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    return out


def _segments(cover: BoolArray, orientation: Orientation) -> list[Segment]:
    """Merge the runs of a cover mask (rows = across the line) into segments."""
    open_: list[list[int]] = []  # [start, end, first_row, last_row, last_start, last_end]
    done: list[list[int]] = []
    for row in np.flatnonzero(cover.any(axis=1)):
        line = np.concatenate(([False], cover[row], [False]))
        edges = np.flatnonzero(line[1:] != line[:-1])
        still_open: list[list[int]] = []
        for seg in open_:
            (still_open if seg[3] >= row - 1 - _ROW_GAP else done).append(seg)
        open_ = still_open
        for s, e in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
            for seg in open_:
                overlap = min(e, seg[5]) - max(s, seg[4])
                if overlap > 0.5 * min(e - s, seg[5] - seg[4]):
                    seg[0], seg[1], seg[3] = min(seg[0], s), max(seg[1], e), int(row)
                    seg[4], seg[5] = s, e
                    break
            else:
                open_.append([s, e, int(row), int(row), s, e])
    done += open_
    out = []
    for start, end, first, last, _, _ in done:
        thickness, length = last - first + 1, end - start
        # A filled block (a dark band, a photo) is not a ruling; a skewed line is a bit thick.
        if thickness > max(10, 0.03 * length):
            continue
        if orientation == "h":
            out.append(Segment("h", start, first, end, last + 1))
        else:
            out.append(Segment("v", first, start, last + 1, end))
    return out


def find_rulings(
    gray: npt.NDArray[np.uint8],
    *,
    min_horizontal: int | None = None,
    min_vertical: int | None = None,
) -> Rulings:
    """Horizontal and vertical ruling segments of a grey page."""
    ink = ink_mask(gray)
    h, w = ink.shape
    # Longer than any glyph stroke of body or heading text at the page's scale.
    min_h = min_horizontal or max(60, round(0.05 * w))
    min_v = min_vertical or max(30, round(0.02 * h))
    horizontal = _segments(_run_cover(_bridge(ink), min_h), "h")
    vertical = _segments(_run_cover(_bridge(ink.T), min_v), "v")
    return Rulings(ink=ink, horizontal=tuple(horizontal), vertical=tuple(vertical))


def coverage(
    ink: BoolArray,
    orientation: Orientation,
    position: float,
    start: float,
    end: float,
    *,
    slack: int,
) -> float:
    """Share of the pixels from ``start`` to ``end`` along a would-be line (horizontal at
    y=``position`` or vertical at x=``position``) that have ink within ``slack`` pixels of it."""
    h, w = ink.shape
    pos = round(position)
    if orientation == "h":
        a, b = max(0, round(start)), min(w, round(end))
        band = ink[max(0, pos - slack) : min(h, pos + slack + 1), a:b]
        return float(band.any(axis=0).mean()) if band.size else 0.0
    a, b = max(0, round(start)), min(h, round(end))
    band = ink[a:b, max(0, pos - slack) : min(w, pos + slack + 1)]
    return float(band.any(axis=1).mean()) if band.size else 0.0


def erase(gray: npt.NDArray[np.uint8], segments: list[Segment], *, pad: int = 1) -> Image.Image:
    """A copy of the page with the given rulings painted white (text reads better without)."""
    out = gray.copy()
    h, w = out.shape
    for s in segments:
        out[max(0, s.y0 - pad) : min(h, s.y1 + pad), max(0, s.x0 - pad) : min(w, s.x1 + pad)] = 255
    return Image.fromarray(out)
