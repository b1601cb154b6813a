"""Reading many small parts of a page in one tesseract call.

Starting tesseract and loading its models costs more than reading a small patch, so patches
(the boxes of a MULTI_BOX field, text the page pass missed) are pasted on one white sheet, far
enough apart not to run together, read at once, and the words are handed back to their patch
in page coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

from clova_etl.server.tesseract.runtime import OcrWord, recognize_words

Box = tuple[float, float, float, float]
_MARGIN = 20


def read_patches(
    gray: npt.NDArray[np.uint8],
    boxes: Sequence[Box],
    langs: str,
    *,
    direction: Literal["row", "column"],
    psm: int,
    config: str = "",
) -> list[list[OcrWord]]:
    """The words read in each box of ``gray``, in page coordinates (one list per box).

    ``row`` lays the patches side by side (a word may cover several: see the caller),
    ``column`` stacks them, one per line of the sheet.
    """
    crops = []
    for x0, y0, x1, y1 in boxes:
        crops.append(gray[max(0, round(y0)) : round(y1), max(0, round(x0)) : round(x1)])
    kept = [i for i, c in enumerate(crops) if c.size]
    out: list[list[OcrWord]] = [[] for _ in boxes]
    if not kept:
        return out
    if direction == "row":
        gap = max(_MARGIN, max(crops[i].shape[1] for i in kept))
        height = max(crops[i].shape[0] for i in kept) + 2 * _MARGIN
        width = gap + sum(crops[i].shape[1] + gap for i in kept)
    else:
        gap = max(_MARGIN, max(crops[i].shape[0] for i in kept))
        width = max(crops[i].shape[1] for i in kept) + 2 * _MARGIN
        height = gap + sum(crops[i].shape[0] + gap for i in kept)
    sheet = np.full((height, width), 255, dtype=np.uint8)
    slots: list[tuple[int, int, int]] = []  # box index, x, y of the patch on the sheet
    pos = gap
    for i in kept:
        crop = crops[i]
        x, y = (pos, _MARGIN) if direction == "row" else (_MARGIN, pos)
        sheet[y : y + crop.shape[0], x : x + crop.shape[1]] = crop
        slots.append((i, x, y))
        pos += (crop.shape[1] if direction == "row" else crop.shape[0]) + gap
    words = recognize_words(Image.fromarray(sheet), langs, psm=psm, config=config)
    centres = [
        (x + crops[i].shape[1] / 2) if direction == "row" else (y + crops[i].shape[0] / 2)
        for i, x, y in slots
    ]
    for word in words:
        at = word.center[0] if direction == "row" else word.center[1]
        nearest = min(range(len(slots)), key=lambda k: abs(centres[k] - at))
        i, x, y = slots[nearest]
        x0, y0 = max(0, round(boxes[i][0])), max(0, round(boxes[i][1]))
        out[i].append(word.moved(x0 - x, y0 - y))
    return out
