"""What the inspector draws: documents, their pages, and the boxes on each page."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Box:
    """An axis-aligned box and, when the response had one, the polygon it came from."""

    x_min: float
    y_min: float
    x_max: float
    y_max: float
    polygon: tuple[float, ...] = ()

    def points(self) -> str:
        """SVG ``points`` of the polygon (the box's corners when there is none)."""
        if len(self.polygon) >= 6:
            return " ".join(f"{v:.1f}" for v in self.polygon)
        x0, y0, x1, y1 = self.x_min, self.y_min, self.x_max, self.y_max
        return f"{x0:.1f} {y0:.1f} {x1:.1f} {y0:.1f} {x1:.1f} {y1:.1f} {x0:.1f} {y1:.1f}"


@dataclass(frozen=True)
class Field:
    """One entry of ``fields[]`` (a word in General OCR, a named field in Template OCR)."""

    index: int
    text: str
    confidence: float | None
    box: Box | None
    name: str | None = None
    type: str | None = None
    checked: bool | None = None
    line_break: bool | None = None
    line_number: int | None = None


@dataclass(frozen=True)
class Cell:
    """One table cell with its grid position, span and text."""

    index: int
    row: int
    column: int
    row_span: int
    column_span: int
    text: str
    confidence: float | None
    box: Box | None


@dataclass(frozen=True)
class Table:
    """One detected table and its cells."""

    index: int
    confidence: float | None
    box: Box | None
    rows: int
    columns: int
    cells: tuple[Cell, ...]


@dataclass
class Page:
    """One entry of ``images[]``: a page of the document, what was read on it, its image."""

    request_id: str
    image_index: int
    source_page: int
    infer_result: str | None
    message: str | None
    width: float | None
    height: float | None
    template: str | None = None
    validation: str | None = None
    title: Field | None = None
    fields: list[Field] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    subfields: dict[int, list[Field]] = field(default_factory=dict)
    """The parts of template fields (MULTI_BOX boxes, lines) by field index (-1: the title)."""
    image: str | None = None
    """Path of the page image relative to the HTML page (set when the image was written)."""
    image_note: str | None = None
    """Why there is no image, or a warning about it."""

    @property
    def anchor(self) -> str:
        """A document-unique id prefix for this page's elements."""
        return f"p{self.source_page}-{self.request_id[:8]}-{self.image_index}"

    @property
    def is_template(self) -> bool:
        """Whether the fields are named template fields."""
        return any(f.name for f in self.fields)


@dataclass(frozen=True)
class Request:
    """One OCR request of the document, as recorded in ``ocr_requests``."""

    request_id: str
    api: str | None
    status: str
    error_code: str | None
    error_message: str | None
    source_sha256: str | None
    source_format: str | None
    page_start: int | None
    page_end: int | None
    completed_at: str | None
    run_id: str | None


@dataclass
class Document:
    """One source object and the requests (and pages) shown for it."""

    source_uri: str
    requests: list[Request] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``succeeded`` when every request shown succeeded, else the first other status."""
        for r in self.requests:
            if r.status != "succeeded":
                return r.status
        return "succeeded" if self.requests else "unknown"


def page_file(source_uri: str) -> str:
    """The inspector page's file name for a source object: readable, unique, stable."""
    import hashlib
    import re

    base = source_uri.rstrip("/").rsplit("/", 1)[-1]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-.")[:60] or "document"
    digest = hashlib.sha256(source_uri.encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{digest}.html"
