"""An independent, deliberately simple flattener over ``json.load`` output, for checking rows.

It loops over the response the obvious way and yields, per table, the key of every row and the
values a test can compare exactly. It shares no code with ``clova_etl.flatten``.
"""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]
Box = tuple[float, float, float, float]


def box(obj: dict[str, Any]) -> Box | tuple[None, None, None, None]:
    poly = obj.get("boundingPoly")
    if isinstance(poly, dict) and isinstance(poly.get("vertices"), list) and poly["vertices"]:
        xs = [float(v["x"]) for v in poly["vertices"]]
        ys = [float(v["y"]) for v in poly["vertices"]]
        return min(xs), min(ys), max(xs), max(ys)
    b = obj.get("bounding")
    if isinstance(b, dict) and not isinstance(poly, dict):
        left, top = float(b["left"]), float(b["top"])
        return left, top, left + float(b["width"]), top + float(b["height"])
    return None, None, None, None


def polygon(obj: dict[str, Any]) -> list[float] | None:
    poly = obj.get("boundingPoly")
    if isinstance(poly, dict) and isinstance(poly.get("vertices"), list):
        return [float(c) for v in poly["vertices"] for c in (v["x"], v["y"])]
    b = obj.get("bounding")
    if isinstance(b, dict):
        left, top = float(b["left"]), float(b["top"])
        right, bottom = left + float(b["width"]), top + float(b["height"])
        return [left, top, right, top, right, bottom, left, bottom]
    return None


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def _geo(obj: dict[str, Any]) -> Row:
    x0, y0, x1, y1 = box(obj)
    return {"polygon": polygon(obj), "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1}


def expected_rows(response: dict[str, Any], request_id: str) -> dict[str, list[Row]]:
    """Rows (key columns + checkable values) of every result table, in key order."""
    out: dict[str, list[Row]] = {
        t: []
        for t in (
            "ocr_images",
            "ocr_fields",
            "ocr_subfields",
            "ocr_tables",
            "ocr_table_cells",
            "ocr_cell_words",
        )
    }
    for i, image in enumerate(response.get("images") or []):
        fields = image.get("fields") or []
        tables = image.get("tables") or []
        title = image.get("title") or {}
        out["ocr_images"].append(
            {
                "request_id": request_id,
                "image_index": i,
                "field_count": len(fields),
                "table_count": len(tables),
                "uid": image.get("uid"),
                "name": image.get("name"),
                "infer_result": image.get("inferResult"),
                "matched_template_id": (image.get("matchedTemplate") or {}).get("id"),
                "validation_result": (image.get("validationResult") or {}).get("result"),
                "page_index": (image.get("convertedImageInfo") or {}).get("pageIndex"),
                "title_infer_text": title.get("inferText"),
                "title_x_min": box(title)[0] if title else None,
            }
        )
        table_boxes = [box(t) for t in tables]
        any_line_break = any("lineBreak" in f for f in fields)
        line = 1
        for j, field in enumerate(fields):
            field_box = box(field)
            inside = None
            if field_box[0] is not None:
                x0, y0, x1, y1 = field_box
                cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
                for k, t_box in enumerate(table_boxes):
                    if t_box[0] is not None:
                        tx0, ty0, tx1, ty1 = t_box
                        if tx0 <= cx <= tx1 and ty0 <= cy <= ty1:
                            inside = k
                            break
            out["ocr_fields"].append(
                {
                    "request_id": request_id,
                    "image_index": i,
                    "field_index": j,
                    "name": field.get("name"),
                    "value_type": field.get("valueType"),
                    "checked": field.get("checked"),
                    "infer_text": field.get("inferText"),
                    "infer_confidence": _f(field.get("inferConfidence")),
                    "type": field.get("type"),
                    "line_break": field.get("lineBreak"),
                    "line_number": line if any_line_break else None,
                    "subfield_count": len(field.get("subFields") or []),
                    "table_index": inside,
                    **_geo(field),
                }
            )
            if field.get("lineBreak"):
                line += 1
        subs = [(-1, k, s) for k, s in enumerate(title.get("subFields") or [])]
        for j, field in enumerate(fields):
            subs += [(j, k, s) for k, s in enumerate(field.get("subFields") or [])]
        for j, k, s in subs:
            out["ocr_subfields"].append(
                {
                    "request_id": request_id,
                    "image_index": i,
                    "field_index": j,
                    "subfield_index": k,
                    "infer_text": s.get("inferText"),
                    "line_break": s.get("lineBreak"),
                    **_geo(s),
                }
            )
        for t, table in enumerate(tables):
            cells = table.get("cells") or []
            out["ocr_tables"].append(
                {
                    "request_id": request_id,
                    "image_index": i,
                    "table_index": t,
                    "cell_count": len(cells),
                    "row_count": max((c["rowIndex"] + c["rowSpan"] for c in cells), default=0),
                    "column_count": max(
                        (c["columnIndex"] + c["columnSpan"] for c in cells), default=0
                    ),
                    **_geo(table),
                }
            )
            for c, cell in enumerate(cells):
                lines = cell.get("cellTextLines") or []
                out["ocr_table_cells"].append(
                    {
                        "request_id": request_id,
                        "image_index": i,
                        "table_index": t,
                        "cell_index": c,
                        "row_index": cell.get("rowIndex"),
                        "column_index": cell.get("columnIndex"),
                        "row_span": cell.get("rowSpan"),
                        "column_span": cell.get("columnSpan"),
                        "line_count": len(lines),
                        "cell_text": "\n".join(
                            " ".join(w["inferText"] for w in ln.get("cellWords") or [])
                            for ln in lines
                        ),
                        **_geo(cell),
                    }
                )
                for li, ln in enumerate(lines):
                    for w, word in enumerate(ln.get("cellWords") or []):
                        out["ocr_cell_words"].append(
                            {
                                "request_id": request_id,
                                "image_index": i,
                                "table_index": t,
                                "cell_index": c,
                                "line_index": li,
                                "word_index": w,
                                "infer_text": word.get("inferText"),
                                "infer_confidence": _f(word.get("inferConfidence")),
                                "line_infer_confidence": _f(ln.get("inferConfidence")),
                                **_geo(word),
                            }
                        )
    return out


def project(rows: list[Row], like: list[Row]) -> list[Row]:
    """``rows`` reduced to the columns the reference rows carry."""
    if not like:
        return rows
    names = list(like[0])
    return [{n: r[n] for n in names} for r in rows]
