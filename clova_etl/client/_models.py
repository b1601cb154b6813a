"""Typed models of CLOVA OCR General/Template responses and of the error body.

They follow the API reference but take what real responses do (see the shared corpus):
unknown keys are kept (``extra="allow"``), integers stand in for floats, every part the
reference calls optional (and some it does not: V1 geometry, ``convertedImageInfo``,
``lineBreak``) may be missing. Python names are snake_case; the JSON names are the aliases.
Validators are "after" validators or on single fields so that ``model_validate_json`` stays
on pydantic-core's fast path.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

__all__ = [
    "Bounding",
    "BoundingPoly",
    "CellTextLine",
    "CellWord",
    "CombineResult",
    "ConvertedImageInfo",
    "ErrorBody",
    "Image",
    "ImageField",
    "ImageTable",
    "MatchedTemplate",
    "OCRResponse",
    "SubField",
    "TableCell",
    "ValidationResult",
    "Vertex",
]

DOCUMENT_OCR_ERROR = "document_ocr_response"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        # Keep pydantic's protected "model_" prefix from clashing with nothing of ours.
        protected_namespaces=(),
    )


class Vertex(_Model):
    """One corner of a polygon, in pixels of the (converted) image."""

    x: float
    y: float


class BoundingPoly(_Model):
    """A polygon (normally 4 vertices, clockwise, not always starting top-left)."""

    vertices: list[Vertex] = Field(default_factory=list)


class Bounding(_Model):
    """V1 Template geometry: an axis-aligned box."""

    top: float
    left: float
    width: float
    height: float


class SubField(_Model):
    """One recognised piece of a Template field (multi-box digits, lines of a table field)."""

    infer_text: str = ""
    infer_confidence: float | None = None
    bounding_poly: BoundingPoly | None = None
    bounding: Bounding | None = None
    line_break: bool | None = None


class ImageField(_Model):
    """A recognised text (General: a word; Template: a named field). Also used for ``title``."""

    name: str | None = None
    value_type: str | None = None
    infer_text: str = ""
    infer_confidence: float | None = None
    bounding_poly: BoundingPoly | None = None
    bounding: Bounding | None = None
    type: str | None = None
    sub_fields: list[SubField] = Field(default_factory=list)
    checked: bool | None = None
    line_break: bool | None = None


class MatchedTemplate(_Model):
    """The template a Template OCR image matched."""

    id: int
    name: str | None = None


class ValidationResult(_Model):
    """Result of the domain's validation rules (``NO_REQUESTED`` when there are none)."""

    result: str
    message: str | None = None


class ConvertedImageInfo(_Model):
    """Size and page of the image a PDF/TIFF page was rendered to (coordinates refer to it)."""

    width: int
    height: int
    page_index: int = 0
    long_image: bool | None = None


class CombineResult(_Model):
    """A combined field: field values joined with fixed text."""

    name: str | None = None
    text: str | None = None


class CellWord(_Model):
    """A word of a table cell's text line."""

    infer_text: str = ""
    infer_confidence: float | None = None
    bounding_poly: BoundingPoly | None = None


class CellTextLine(_Model):
    """A line of text inside a table cell."""

    cell_words: list[CellWord] = Field(default_factory=list)
    infer_confidence: float | None = None
    bounding_poly: BoundingPoly | None = None


class TableCell(_Model):
    """A table cell: position, span and its text lines (may be empty)."""

    cell_text_lines: list[CellTextLine] = Field(default_factory=list)
    infer_confidence: float | None = None
    bounding_poly: BoundingPoly | None = None
    row_index: int
    column_index: int
    row_span: int = 1
    column_span: int = 1


class ImageTable(_Model):
    """A table detected on the image (General OCR with ``enableTableDetection``)."""

    cells: list[TableCell] = Field(default_factory=list)
    infer_confidence: float | None = None
    bounding_poly: BoundingPoly | None = None


class Image(_Model):
    """The result for one image (one page of a PDF/TIFF)."""

    uid: str | None = None
    name: str | None = None
    infer_result: str
    message: str | None = None
    matched_template: MatchedTemplate | None = None
    title: ImageField | None = None
    fields: list[ImageField] = Field(default_factory=list)
    validation_result: ValidationResult | None = None
    converted_image_info: ConvertedImageInfo | None = None
    # The reference draws one object; lists are accepted too. Always a list here.
    combine_result: list[CombineResult] = Field(default_factory=list)
    tables: list[ImageTable] = Field(default_factory=list)

    @field_validator("combine_result", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if value is None:
            return []
        return [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _not_document_ocr(self) -> Image:
        # Document OCR (/receipt, /name-card ...) shares the envelope but has no `fields`.
        extra = self.__pydantic_extra__ or {}
        if "receipt" in extra and not self.fields:
            raise PydanticCustomError(
                DOCUMENT_OCR_ERROR,
                "Document OCR response (receipt) is not a General/Template OCR result",
            )
        return self

    @property
    def billable(self) -> bool:
        """The service does not charge an image whose ``inferResult`` is ``ERROR``."""
        return self.infer_result != "ERROR"


class OCRResponse(_Model):
    """A General (``/general``) or Template (``/infer``) OCR answer."""

    version: str
    request_id: str
    timestamp: int
    images: list[Image] = Field(min_length=1)

    @property
    def billable_pages(self) -> int:
        """Images the service bills (every image whose ``inferResult`` is not ``ERROR``)."""
        return sum(1 for image in self.images if image.billable)


class ErrorBody(_Model):
    """The error body ``{code, message, path, timestamp, traceId?}``."""

    code: str
    message: str | None = None
    path: str | None = None
    timestamp: int | None = None
    trace_id: str | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _code_text(cls, value: Any) -> Any:
        # Codes are strings ("0023"); a number loses its leading zeros, so put them back.
        return f"{value:04d}" if isinstance(value, int) and not isinstance(value, bool) else value
