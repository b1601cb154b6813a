"""A second look at ink the page pass did not read.

Tesseract's page layout analysis sometimes drops a whole column or line (a receipt's amounts,
a short line between two long ones). Ink that no recognised word covers is cut into line-sized
chunks and read again in one call (see :mod:`clova_etl.server.tesseract.patches`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from clova_etl.server.tesseract.patches import read_patches
from clova_etl.server.tesseract.rulings import BoolArray, ink_mask
from clova_etl.server.tesseract.runtime import OcrWord

Box = tuple[float, float, float, float]

# Second-pass words below this confidence are dropped: there, stray marks read as letters.
MIN_CONFIDENCE = 0.5
# A chunk needs this many ink pixels and this height to be worth reading.
_MIN_INK = 24
_MIN_HEIGHT = 7


def _runs(flags: npt.NDArray[np.bool_] | np.bool_, max_gap: int) -> list[tuple[int, int]]:
    """(start, end) of the runs of True, bridging gaps up to ``max_gap``."""
    idx = np.flatnonzero(np.asarray(flags))
    if not idx.size:
        return []
    breaks = np.flatnonzero(np.diff(idx) > max_gap + 1)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]])) + 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def missed_chunks(ink: BoolArray, words: list[OcrWord]) -> list[Box]:
    """Boxes of ink lines that no word covers."""
    h, w = ink.shape
    left = ink.copy()
    for word in words:
        # Wider along the line: tesseract's CJK boxes are often narrower than the glyphs, and
        # the slivers left beside them are not text (a missed word sits further away).
        px, py = max(3, round(0.6 * word.height)), max(2, round(0.25 * word.height))
        left[max(0, word.top - py) : word.bottom + py, max(0, word.left - px) : word.right + px] = (
            False
        )
    heights = sorted(word.height for word in words)
    line = heights[len(heights) // 2] if heights else max(20, h // 40)
    chunks: list[Box] = []
    for y0, y1 in _runs(left.any(axis=1), max_gap=1):
        if y1 - y0 < _MIN_HEIGHT or y1 - y0 > 4 * line:
            continue  # a speck or a ruling's leftover; a picture, not a text line
        band = left[y0:y1]
        for x0, x1 in _runs(band.any(axis=0), max_gap=max(8, y1 - y0)):
            if int(band[:, x0:x1].sum()) >= _MIN_INK:
                pad = 4
                chunks.append(
                    (max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad))
                )
    return chunks


def read_missed(
    gray: npt.NDArray[np.uint8], words: list[OcrWord], langs: str, *, psm: int
) -> list[OcrWord]:
    """Words read in the ink that ``words`` leave uncovered (empty when nothing is left)."""
    chunks = missed_chunks(ink_mask(gray), words)
    if not chunks:
        return []
    found = read_patches(gray, chunks, langs, direction="column", psm=psm)
    out = []
    for i, chunk_words in enumerate(found):
        for word in chunk_words:
            if word.confidence >= MIN_CONFIDENCE:
                # A line of its own in the engine's structure: rows are rebuilt from geometry.
                out.append(
                    OcrWord(
                        word.text,
                        word.left,
                        word.top,
                        word.width,
                        word.height,
                        word.confidence,
                        block=10_000 + i,
                        paragraph=word.paragraph,
                        line=word.line,
                    )
                )
    return out
