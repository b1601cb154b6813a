"""What the engine learns about a page before reading it: ink, rulings, boxes, and a copy of
the page with the rulings painted out (tesseract misreads lines as ``|``, ``_`` or ``1`` and
drops text that touches them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from clova_etl.server.tesseract.rulings import Rulings, Segment, erase, find_rulings, gray_array
from clova_etl.server.tesseract.tables import frames


@dataclass(frozen=True)
class PageLayout:
    """A page's grey pixels, its rulings, and the page cleaned of them."""

    gray: npt.NDArray[np.uint8]
    rulings: Rulings
    clean: Image.Image

    @property
    def clean_gray(self) -> npt.NDArray[np.uint8]:
        """The cleaned page as a grey array."""
        return np.asarray(self.clean, dtype=np.uint8)


def analyse(image: Image.Image) -> PageLayout:
    """Find the rulings of a page and paint them out.

    Every horizontal ruling goes (no glyph stroke is that long); a vertical one only when it
    belongs to a frame (a table, a box), since a tall glyph stroke may be as long as a short
    vertical ruling.
    """
    gray = gray_array(image)
    rulings = find_rulings(gray)
    boxed: list[Segment] = [v for _, vs in frames(rulings) for v in vs]
    clean = erase(gray, [*rulings.horizontal, *boxed])
    return PageLayout(gray=gray, rulings=rulings, clean=clean)
