"""Template definitions for template OCR: the ``templates.json`` format and its loader.

The format is the one ``clova-etl samples`` writes (:mod:`clova_etl.samples.templates`) and
``clova-etl serve --templates`` deploys; coordinates are pixels of the template's page::

    {"version": 1, "templates": [{
        "id": 1001, "name": "claim-form", "page": {"width": 1000, "height": 1300},
        "title": {"name": "title", "type": "NORMAL", "box": [200, 50, 800, 130],
                  "text": "보험금 청구서"},
        "regions": [
          {"name": "name", "type": "NORMAL", "valueType": "ALL", "box": [330, 200, 900, 260]},
          {"name": "claim-no", "type": "MULTI_BOX", "valueType": "NUMERIC",
           "box": [330, 300, 746, 366], "boxCount": 6, "boxes": [[330, 300, 391, 366], ...]},
          {"name": "fax-checkbox", "type": "CHECKBOX", "box": [330, 690, 374, 734]}]}]}

``title.text`` (optional, an extension) is the printed title; when present, template matching
compares it with what is read in the title region. ``boxes`` (optional) lists the boxes of a
MULTI_BOX region; without it the region is cut into ``boxCount`` equal boxes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

RegionType = Literal["NORMAL", "MULTI_BOX", "CHECKBOX"]
Box = tuple[float, float, float, float]
_TYPES = ("NORMAL", "MULTI_BOX", "CHECKBOX")


class TemplateFileError(ValueError):
    """A template file does not follow the format; the message names the entry and the key."""


@dataclass(frozen=True)
class RegionSpec:
    """A named region of a template (page pixels of the template)."""

    name: str
    type: RegionType
    box: Box
    value_type: str = "ALL"
    boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class TemplateSpec:
    """One deployed template: id, name, page size, title region and field regions."""

    id: int
    name: str
    width: float
    height: float
    title: RegionSpec
    regions: tuple[RegionSpec, ...]
    title_text: str | None = None


def _box(value: Any, where: str) -> Box:
    if not isinstance(value, Sequence) or len(value) != 4:
        raise TemplateFileError(f"{where}: 'box' must be [x0, y0, x1, y1]")
    try:
        x0, y0, x1, y1 = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TemplateFileError(f"{where}: 'box' must hold numbers") from None
    if x1 <= x0 or y1 <= y0:
        raise TemplateFileError(f"{where}: 'box' must have x1 > x0 and y1 > y0")
    return (x0, y0, x1, y1)


def _split(box: Box, count: int) -> tuple[Box, ...]:
    width = (box[2] - box[0]) / count
    return tuple(
        (box[0] + i * width, box[1], box[0] + (i + 1) * width, box[3]) for i in range(count)
    )


def _region(raw: Any, where: str) -> RegionSpec:
    if not isinstance(raw, Mapping):
        raise TemplateFileError(f"{where}: must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise TemplateFileError(f"{where}: 'name' must be a non-empty string")
    where = f"{where} ({name!r})"
    kind = raw.get("type", "NORMAL")
    if kind not in _TYPES:
        raise TemplateFileError(f"{where}: 'type' must be one of {', '.join(_TYPES)}")
    box = _box(raw.get("box"), where)
    boxes: tuple[Box, ...] = ()
    if kind == "MULTI_BOX":
        if "boxes" in raw:
            if not isinstance(raw["boxes"], Sequence) or not raw["boxes"]:
                raise TemplateFileError(f"{where}: 'boxes' must be a non-empty list of boxes")
            boxes = tuple(_box(b, f"{where} boxes[{i}]") for i, b in enumerate(raw["boxes"]))
        else:
            count = raw.get("boxCount")
            if not isinstance(count, int) or count < 1:
                raise TemplateFileError(f"{where}: a MULTI_BOX needs 'boxCount' >= 1 or 'boxes'")
            boxes = _split(box, count)
    value_type = raw.get("valueType", "ALL")
    if not isinstance(value_type, str):
        raise TemplateFileError(f"{where}: 'valueType' must be a string")
    return RegionSpec(name, cast(RegionType, kind), box, value_type, boxes)


def _template(raw: Any, where: str) -> TemplateSpec:
    if not isinstance(raw, Mapping):
        raise TemplateFileError(f"{where}: must be an object")
    tid = raw.get("id")
    name = raw.get("name")
    if not isinstance(tid, int) or isinstance(tid, bool):
        raise TemplateFileError(f"{where}: 'id' must be an integer")
    if not isinstance(name, str) or not name:
        raise TemplateFileError(f"{where}: 'name' must be a non-empty string")
    where = f"template {tid} ({name!r})"
    page = raw.get("page")
    if not isinstance(page, Mapping):
        raise TemplateFileError(f"{where}: 'page' must be {{'width': W, 'height': H}}")
    try:
        width, height = float(page["width"]), float(page["height"])
    except (KeyError, TypeError, ValueError):
        raise TemplateFileError(f"{where}: 'page' must be {{'width': W, 'height': H}}") from None
    if width <= 0 or height <= 0:
        raise TemplateFileError(f"{where}: page width and height must be positive")
    title = _region(raw.get("title"), f"{where} title")
    regions = raw.get("regions", [])
    if not isinstance(regions, Sequence):
        raise TemplateFileError(f"{where}: 'regions' must be a list")
    specs = tuple(_region(r, f"{where} regions[{i}]") for i, r in enumerate(regions))
    text = raw["title"].get("text")
    if text is not None and not isinstance(text, str):
        raise TemplateFileError(f"{where} title: 'text' must be a string")
    return TemplateSpec(tid, name, width, height, title, specs, text or None)


def parse_templates(doc: Any) -> list[TemplateSpec]:
    """The templates of a decoded ``templates.json`` document."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("templates"), Sequence):
        raise TemplateFileError("a template file is an object with a 'templates' list")
    specs = [_template(t, f"templates[{i}]") for i, t in enumerate(doc["templates"])]
    ids = [s.id for s in specs]
    if len(set(ids)) != len(ids):
        raise TemplateFileError(f"template ids must be unique, got {ids}")
    return specs


def load_template_file(path: Path) -> list[TemplateSpec]:
    """The templates of a ``templates.json`` file."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TemplateFileError(f"cannot read template file {path}: {exc}") from exc
    try:
        return parse_templates(doc)
    except TemplateFileError as exc:
        raise TemplateFileError(f"{path}: {exc}") from None


def sample_templates() -> list[TemplateSpec]:
    """The templates the sample generator draws its forms from (the server's default set)."""
    from clova_etl.samples.templates import TEMPLATES

    return parse_templates({"templates": [t.to_json() for t in TEMPLATES]})
