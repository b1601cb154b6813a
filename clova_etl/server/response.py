"""The success answer: one ``images[]`` entry per page, in the V1 or V2 shape.

V2 is the shape engines produce. V1 drops what V1 never had (``type``, ``lineBreak``,
``subFields``, ``checked``, ``convertedImageInfo``, ``tables``) and, on the Template API,
replaces ``boundingPoly`` with ``bounding {top, left, width, height}`` as 2019 answers do.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from clova_etl.server.engine import PageResult
from clova_etl.server.request import OcrRequest

_V1_DROP = ("type", "lineBreak", "subFields", "checked")


def image_entry(
    request: OcrRequest,
    result: PageResult,
    *,
    converted: dict[str, int] | None,
) -> dict[str, Any]:
    """One ``images[]`` entry for a page (``converted`` is set for PDF/TIFF pages)."""
    v2 = request.version == "V2"
    template = request.api == "template"
    entry: dict[str, Any] = {
        "uid": uuid.uuid4().hex,
        "name": request.image.name,
        "inferResult": result.infer_result,
        "message": result.message,
    }
    if template and result.matched_template is not None:
        entry["matchedTemplate"] = dict(result.matched_template)
    entry["validationResult"] = {"result": "NO_REQUESTED"}
    if v2 and converted is not None:
        entry["convertedImageInfo"] = converted
    if template and result.title is not None:
        entry["title"] = result.title if v2 else _v1_field(result.title, template=True)
    if v2 and not template and request.table_detection and result.infer_result != "ERROR":
        entry["tables"] = result.tables
    entry["fields"] = (
        result.fields if v2 else [_v1_field(f, template=template) for f in result.fields]
    )
    return entry


def error_entry(request: OcrRequest, message: str) -> dict[str, Any]:
    """An ``images[]`` entry for an image that could not be processed (not charged)."""
    return image_entry(request, PageResult(infer_result="ERROR", message=message), converted=None)


def success_body(request: OcrRequest, images: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole answer."""
    return {
        "version": request.version,
        "requestId": request.request_id,
        "timestamp": int(time.time() * 1000),
        "images": images,
    }


def _v1_field(field: dict[str, Any], *, template: bool) -> dict[str, Any]:
    out = {k: v for k, v in field.items() if k not in _V1_DROP}
    if template and "boundingPoly" in out:
        out["bounding"] = _bounding(out.pop("boundingPoly"))
    return out


def _bounding(poly: dict[str, Any]) -> dict[str, float]:
    xs = [float(v["x"]) for v in poly["vertices"]]
    ys = [float(v["y"]) for v in poly["vertices"]]
    left, top = min(xs), min(ys)
    return {
        "top": round(top, 3),
        "left": round(left, 3),
        "width": round(max(xs) - left, 3),
        "height": round(max(ys) - top, 3),
    }
