"""Template definitions of the sample forms (what a CLOVA domain would have "deployed").

The form sample is drawn from these regions, the local server treats them as deployed
templates, and ``templates.json`` publishes them (page pixel coordinates) for template OCR.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

RegionType = Literal["NORMAL", "MULTI_BOX", "CHECKBOX"]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in page pixels


@dataclass(frozen=True)
class Region:
    """A field region of a template."""

    name: str
    type: RegionType
    box: Box
    value_type: str = "ALL"
    box_count: int = 1
    box_gap: int = 0

    def boxes(self) -> list[Box]:
        """The individual boxes of a MULTI_BOX region (the region itself otherwise)."""
        if self.type != "MULTI_BOX":
            return [self.box]
        x0, y0, x1, y1 = self.box
        width = (x1 - x0 - self.box_gap * (self.box_count - 1)) // self.box_count
        return [
            (x0 + i * (width + self.box_gap), y0, x0 + i * (width + self.box_gap) + width, y1)
            for i in range(self.box_count)
        ]

    def to_json(self) -> dict[str, Any]:
        """The region as written to ``templates.json``."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "valueType": self.value_type,
            "box": list(self.box),
        }
        if self.type == "MULTI_BOX":
            out["boxCount"] = self.box_count
            out["boxes"] = [list(b) for b in self.boxes()]
        return out


@dataclass(frozen=True)
class TemplateDefinition:
    """A template: id, name, page size, title region and field regions."""

    id: int
    name: str
    width: int
    height: int
    title: Region
    regions: tuple[Region, ...] = field(default_factory=tuple)
    # The printed title; template matching compares it with what is read in the title region.
    title_text: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The template as written to ``templates.json``."""
        return {
            "id": self.id,
            "name": self.name,
            "page": {"width": self.width, "height": self.height},
            "title": self.title.to_json() | ({"text": self.title_text} if self.title_text else {}),
            "regions": [r.to_json() for r in self.regions],
        }


CLAIM_FORM = TemplateDefinition(
    id=1001,
    name="claim-form",
    width=1000,
    height=1300,
    title=Region("title", "NORMAL", (200, 50, 800, 130)),
    regions=(
        Region("name", "NORMAL", (330, 200, 900, 260)),
        Region("claim-no", "MULTI_BOX", (330, 300, 746, 366), "NUMERIC", box_count=6, box_gap=10),
        Region("address", "NORMAL", (330, 410, 900, 530)),
        Region("amount", "NORMAL", (330, 580, 900, 640), "NUMERIC"),
        Region("fax-checkbox", "CHECKBOX", (330, 690, 374, 734)),
        Region("email-checkbox", "CHECKBOX", (630, 690, 674, 734)),
    ),
    title_text="보험금 청구서",
)

TEMPLATES: tuple[TemplateDefinition, ...] = (CLAIM_FORM,)


def write_templates(path: Path, templates: tuple[TemplateDefinition, ...] = TEMPLATES) -> Path:
    """Write ``templates.json`` (stable key order and formatting)."""
    doc = {"version": 1, "templates": [t.to_json() for t in templates]}
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
