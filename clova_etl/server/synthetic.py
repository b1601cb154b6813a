"""The ``synthetic`` engine: answers the ground truth embedded in documents made by
``clova-etl samples`` (see :mod:`clova_etl.samples.truth`), exactly and deterministically.

A document without truth still gets a valid answer: no words on the General API, no matched
template (``FAILURE``) on the Template API.
"""

from __future__ import annotations

from typing import Any

from clova_etl.samples.truth import (
    DocumentTruth,
    TruthField,
    TruthPage,
    TruthSubField,
    TruthTable,
    extract_truth,
)
from clova_etl.server.engine import (
    PageInput,
    PageResult,
    RecognizeOptions,
    cell_word,
    quad_poly,
    scale_quad,
    word_field,
)

NO_TEMPLATE_MESSAGE = "Template matching failed: no deployed template matches this image."


class SyntheticEngine:
    """Replays the truth embedded in sample documents."""

    name = "synthetic"
    # The truth is in the document's metadata; pages are measured, never decoded.
    reads_pixels = False

    def recognize(self, page: PageInput, options: RecognizeOptions) -> PageResult:
        """The truth of the page, in the V2 shape of the requested API."""
        truth = self._truth(page)
        truth_page = truth.pages[page.index] if truth and page.index < len(truth.pages) else None
        if options.api == "template":
            return self._template(truth, truth_page, page, options)
        result = PageResult()
        if truth_page is None:
            return result
        sx, sy = page.width / truth_page.width, page.height / truth_page.height
        result.fields = [
            word_field(w.text, scale_quad(w.quad, sx, sy), w.confidence, line_break=w.line_break)
            for w in truth_page.words
        ]
        if options.table_detection:
            result.tables = [_table(t, sx, sy) for t in truth_page.tables]
        return result

    def _truth(self, page: PageInput) -> DocumentTruth | None:
        memo = page.document.memo
        if "truth" not in memo:
            memo["truth"] = extract_truth(page.document.data, page.document.format)
        truth: DocumentTruth | None = memo["truth"]
        return truth

    def _template(
        self,
        truth: DocumentTruth | None,
        truth_page: TruthPage | None,
        page: PageInput,
        options: RecognizeOptions,
    ) -> PageResult:
        template = truth.template if truth else None
        if (
            template is None
            or truth_page is None
            or template.id not in options.templates
            or (truth_page.title is None and not truth_page.fields)
        ):
            return PageResult(infer_result="FAILURE", message=NO_TEMPLATE_MESSAGE)
        sx, sy = page.width / truth_page.width, page.height / truth_page.height
        return PageResult(
            matched_template={"id": template.id, "name": options.templates[template.id]},
            title=_title(truth_page.title, sx, sy) if truth_page.title else None,
            fields=[_template_field(f, sx, sy) for f in truth_page.fields],
        )


def _title(title: TruthField, sx: float, sy: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": title.name,
        "boundingPoly": quad_poly(scale_quad(title.quad, sx, sy)),
        "inferText": title.text,
        "inferConfidence": round(title.confidence, 4),
    }
    if title.sub_fields:
        out["subFields"] = [_sub_field(s, sx, sy) for s in title.sub_fields]
    return out


def _template_field(f: TruthField, sx: float, sy: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": f.name,
        "valueType": f.value_type,
        "boundingPoly": quad_poly(scale_quad(f.quad, sx, sy)),
        "inferText": f.text,
        "inferConfidence": round(f.confidence, 4),
        "type": f.type,
    }
    if f.sub_fields:
        out["subFields"] = [_sub_field(s, sx, sy) for s in f.sub_fields]
    if f.type == "CHECKBOX":
        out["checked"] = bool(f.checked)
    return out


def _sub_field(s: TruthSubField, sx: float, sy: float) -> dict[str, Any]:
    return {
        "boundingPoly": quad_poly(scale_quad(s.quad, sx, sy)),
        "inferText": s.text,
        "inferConfidence": round(s.confidence, 4),
        "lineBreak": s.line_break,
    }


def _table(table: TruthTable, sx: float, sy: float) -> dict[str, Any]:
    cells = []
    for c in table.cells:
        lines = [
            {
                "cellWords": [
                    cell_word(w.text, scale_quad(w.quad, sx, sy), w.confidence) for w in line.words
                ],
                "boundingPoly": quad_poly(scale_quad(line.quad, sx, sy)),
                "inferConfidence": round(line.confidence, 4),
            }
            for line in c.lines
        ]
        cells.append(
            {
                "cellTextLines": lines,
                "boundingPoly": quad_poly(scale_quad(c.quad, sx, sy)),
                "inferConfidence": round(c.confidence, 4),
                "rowSpan": c.row_span,
                "rowIndex": c.row,
                "columnSpan": c.col_span,
                "columnIndex": c.col,
            }
        )
    return {
        "cells": cells,
        "boundingPoly": quad_poly(scale_quad(table.quad, sx, sy)),
        "inferConfidence": round(table.confidence, 4),
    }
