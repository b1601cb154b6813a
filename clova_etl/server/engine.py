"""The recognition engine interface of the local server, and helpers to build its results.

An engine turns one rendered page into a :class:`PageResult` whose ``fields``/``tables``/
``title`` are already in the **V2** shape of the CLOVA answer, in the page's pixel space. The
server does everything else: request checks, rendering PDF/TIFF pages, ``uid``, ``name``,
``validationResult``, ``convertedImageInfo``, the V1 down-conversion, billing and faults.

To add an engine (e.g. tesseract): write a class with a ``name`` and a ``recognize`` method,
use :func:`word_field`, :func:`quad_poly` and friends to build the dicts, and register a factory
in :data:`ENGINES` (``clova_etl.server.engines``). ``recognize`` runs in a worker thread: it may
block, and several calls may run at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from PIL import Image

from clova_etl.formats import SourceFormat

InferResult = Literal["SUCCESS", "FAILURE", "ERROR"]
Point = tuple[float, float]
Quad = Sequence[Point]


@dataclass(frozen=True)
class SourceDocument:
    """The bytes of the requested document, as received."""

    data: bytes
    format: SourceFormat
    page_count: int
    # Per-document scratch space for engines (e.g. parsed metadata reused for every page).
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class PageInput:
    """One page to recognise: its size, the rendered image and where it comes from.

    ``image`` is None only for an engine that reads no pixels (``reads_pixels = False``): the
    page was then measured and checked, not decoded.
    """

    document: SourceDocument
    index: int
    size: tuple[int, int]
    image: Image.Image | None = None

    @property
    def width(self) -> int:
        """Width of the rendered page in pixels."""
        return self.size[0]

    @property
    def height(self) -> int:
        """Height of the rendered page in pixels."""
        return self.size[1]

    def pixels(self) -> Image.Image:
        """The rendered page (for engines that read pixels)."""
        if self.image is None:
            raise RuntimeError("page was not decoded: the engine declared reads_pixels = False")
        return self.image


@dataclass(frozen=True)
class RecognizeOptions:
    """What the request asks of the engine."""

    api: Literal["general", "template"]
    version: Literal["V1", "V2"]
    lang: tuple[str, ...]
    table_detection: bool
    # Deployed templates the image may match (already narrowed to the request's templateIds).
    templates: Mapping[int, str]


@dataclass
class PageResult:
    """What an engine read on one page (V2 shapes, page pixel coordinates)."""

    infer_result: InferResult = "SUCCESS"
    message: str = "SUCCESS"
    fields: list[dict[str, Any]] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    title: dict[str, Any] | None = None
    matched_template: dict[str, Any] | None = None


class Engine(Protocol):
    """A recognition engine: one page in, one :class:`PageResult` out.

    An engine may set ``reads_pixels = False`` (the synthetic one does): its pages then come
    measured and integrity-checked but not decoded, which is most of a call's CPU.
    """

    name: str

    def recognize(self, page: PageInput, options: RecognizeOptions) -> PageResult:
        """Recognise one page; must not raise for ordinary unreadable content."""
        ...


def _num(value: float) -> float:
    # Round so that answers stay small and stable across platforms.
    return round(float(value), 3)


def quad_poly(quad: Quad) -> dict[str, Any]:
    """A ``boundingPoly`` object from four (x, y) points."""
    return {"vertices": [{"x": _num(x), "y": _num(y)} for x, y in quad]}


def box_quad(x0: float, y0: float, x1: float, y1: float) -> tuple[Point, Point, Point, Point]:
    """The clockwise quad of an axis-aligned box, from its top-left corner."""
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def word_field(
    text: str, quad: Quad, confidence: float, *, line_break: bool, value_type: str = "ALL"
) -> dict[str, Any]:
    """A General OCR field (one word)."""
    return {
        "valueType": value_type,
        "boundingPoly": quad_poly(quad),
        "inferText": text,
        "inferConfidence": _num_conf(confidence),
        "type": "NORMAL",
        "lineBreak": line_break,
    }


def cell_word(text: str, quad: Quad, confidence: float) -> dict[str, Any]:
    """A ``cellWords[]`` entry."""
    return {
        "boundingPoly": quad_poly(quad),
        "inferText": text,
        "inferConfidence": _num_conf(confidence),
    }


def _num_conf(value: float) -> float:
    return round(float(value), 4)


def scale_quad(quad: Quad, sx: float, sy: float) -> tuple[Point, ...]:
    """A quad scaled from one pixel space to another."""
    return tuple((x * sx, y * sy) for x, y in quad)
