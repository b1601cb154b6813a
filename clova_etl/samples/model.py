"""What a sample builder produces and how the sample set is described."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from PIL import Image

from clova_etl.formats import SourceFormat
from clova_etl.samples.truth import DocumentTruth


@dataclass(frozen=True)
class BuiltSample:
    """Rendered pages and the truth drawn on them."""

    pages: list[Image.Image]
    truth: DocumentTruth


@dataclass(frozen=True)
class SampleSpec:
    """One sample of the set and the request options it is meant for."""

    name: str
    format: SourceFormat
    lang: str
    api: Literal["general", "template"]
    table_detection: bool
    description: str

    @property
    def filename(self) -> str:
        """File name in the output folder."""
        return f"{self.name}.{self.format}"
