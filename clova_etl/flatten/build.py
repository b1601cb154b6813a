"""A parsed batch → the seven tables of :data:`clova_etl.schema.TABLES`, column by column.

Rows come out in key order (documents in input order, then the response's own order), with
ordinals taken from positions in the response, so the same input always gives the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from clova_etl.flatten.arrays import (
    BoolArray,
    Exploded,
    FloatArray,
    IntArray,
    bools,
    child,
    explode,
    geometry,
    ints,
    repeat_value,
    segment_reduce,
    valid,
)
from clova_etl.flatten.documents import MALFORMED_ENVELOPE, MALFORMED_RESPONSE, Document, column
from clova_etl.flatten.npa import from_numpy, string_scalar, strings
from clova_etl.schema import PARSER_VERSION, TABLES

_STATUSES = ("succeeded", "failed", "rejected")
_TS = pa.timestamp("us", tz="UTC")
_EMPTY, _SPACE, _NEWLINE = (string_scalar(s) for s in ("", " ", "\n"))


def _arrow_table(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    """Columns cast to the declared schema; key and non-null columns checked."""
    schema = TABLES[name].arrow_schema
    arrays = []
    for f in schema:
        array = columns[f.name]
        if array.type != f.type:
            if pa.types.is_integer(f.type) and pa.types.is_integer(array.type):
                # An absurd API number (a width of 2**40) becomes null, not a crash.
                info = np.iinfo(f.type.to_pandas_dtype())
                data = ints(array, 0)
                fits = valid(array) & (data >= info.min) & (data <= info.max)
                array = from_numpy(np.where(fits, data, 0), f.type, fits)
            else:
                array = array.cast(f.type)
        if not f.nullable and array.null_count:
            raise ValueError(f"{name}.{f.name} has {array.null_count} nulls")  # a flatten bug
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=schema)


def _ints(data: IntArray) -> pa.Array:
    return from_numpy(data, pa.int32())


def _take(array: pa.Array, indices: IntArray) -> pa.Array:
    return array.take(from_numpy(indices, pa.int64()))


@dataclass(frozen=True)
class _Outcome:
    """How each document of the batch ended."""

    request_id: list[str]
    status: list[str]
    error_code: list[str | None]
    error_message: list[str | None]
    ok: BoolArray


def _outcomes(docs: Sequence[Document], table: pa.Table) -> _Outcome:
    response, call = column(table, "response"), column(table, "call")
    envelope_ids = column(table, "request_id").to_pylist()
    call_status = child(call, "status").to_pylist()
    call_code = child(call, "error_code").to_pylist()
    call_message = child(call, "error_message").to_pylist()
    has_response = valid(response)
    has_images = valid(child(response, "images"))
    body_code = child(response, "code").to_pylist()
    body_message = child(response, "message").to_pylist()
    out = _Outcome([], [], [], [], np.zeros(len(docs), dtype=np.bool_))
    for i, doc in enumerate(docs):
        code: str | None = None
        message: str | None = None
        if doc.envelope:
            rid = envelope_ids[i]
            if rid is None:
                rid = doc.content_id
                doc.fail(MALFORMED_ENVELOPE, "raw-store envelope has no request_id")
            status = call_status[i]
            if status not in _STATUSES:
                doc.fail(MALFORMED_ENVELOPE, f"raw-store envelope has call.status {status!r}")
            code, message = call_code[i], call_message[i]
        else:
            rid, status = doc.content_id, "succeeded"
        if doc.failure:
            status = "failed"
            code, message = doc.failure
        elif status != "succeeded":
            if code is None and body_code[i] is not None:
                code, message = body_code[i], message or body_message[i]
        elif not has_response[i]:
            status, code = "failed", MALFORMED_ENVELOPE
            message = "call.status is succeeded but the envelope holds no response"
        elif not has_images[i]:
            status = "failed"
            if body_code[i] is not None:
                code = body_code[i]
                message = body_message[i] or f"CLOVA error {code}"
            else:
                code, message = (
                    MALFORMED_RESPONSE,
                    "response has neither images[] nor an error code",
                )
        out.request_id.append(rid)
        out.status.append(status)
        out.error_code.append(code)
        out.error_message.append(message)
        out.ok[i] = status == "succeeded"
    return out


def _only(lists: pa.Array, keep: BoolArray) -> pa.Array:
    """``lists`` with the rows outside ``keep`` turned null (zero-copy)."""
    if keep.all():
        return lists
    mask = ~(keep & valid(lists))
    return pa.ListArray.from_arrays(lists.offsets, lists.values, mask=from_numpy(mask, pa.bool_()))


def _line_numbers(fields: pa.Array, rows: Exploded, n_images: int) -> pa.Array:
    line_break = child(fields, "lineBreak")
    breaks = bools(line_break).astype(np.int64)
    before = np.cumsum(breaks) - breaks  # line breaks before each field, all images together
    at_start = np.concatenate(([0], np.cumsum(breaks)))[rows.offsets[:-1]]
    number = 1 + before - at_start[rows.parent]
    # Images whose fields carry no lineBreak at all (V1, Template) have no line numbers.
    with_breaks = np.bincount(rows.parent, weights=valid(line_break), minlength=n_images) > 0
    return from_numpy(number, pa.int32(), with_breaks[rows.parent])


def _table_of_fields(
    centres: tuple[FloatArray, FloatArray],
    field_rows: Exploded,
    table_rows: Exploded,
    boxes: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
) -> pa.Array:
    """For each field, the first table of its image whose box holds the field's centre."""
    cx, cy = centres
    found = np.full(len(cx), -1, dtype=np.int32)
    x0, y0, x1, y1 = boxes
    for t, image in enumerate(table_rows.parent.tolist()):
        start, end = int(field_rows.offsets[image]), int(field_rows.offsets[image + 1])
        if start == end:
            continue
        x, y, seg = cx[start:end], cy[start:end], found[start:end]
        inside = (seg < 0) & (x >= x0[t]) & (x <= x1[t]) & (y >= y0[t]) & (y <= y1[t])
        seg[inside] = table_rows.position[t]
    return from_numpy(found, pa.int32(), found >= 0)


def _requests(
    docs: Sequence[Document], table: pa.Table, outcome: _Outcome, images: Exploded
) -> pa.Table:
    response = column(table, "response")
    source, options, call = (column(table, n) for n in ("source", "options", "call"))
    envelope = np.array([d.envelope for d in docs], dtype=np.bool_)
    images_of_doc = child(response, "images")
    # A bare file is a General or Template answer; a matched template or a title tells which.
    img = images.values
    templated = valid(child(img, "matchedTemplate")) | valid(child(img, "title"))
    template_docs = np.bincount(images.parent, weights=templated, minlength=len(docs)) > 0
    api = [
        o_api if env else (("template" if tpl else "general") if ok else None)
        for o_api, env, tpl, ok in zip(
            child(options, "api").to_pylist(), envelope, template_docs, outcome.ok, strict=True
        )
    ]
    version = pc.if_else(
        from_numpy(envelope, pa.bool_()), child(options, "version"), child(response, "version")
    )
    template_ids = [
        ",".join(str(t) for t in ids) if ids else None
        for ids in child(options, "template_ids").to_pylist()
    ]
    uris = child(source, "uri").to_pylist()
    ms = child(response, "timestamp")
    millis = ints(ms, 0)
    # Epoch milliseconds; an absurd value (beyond year 292277) becomes null, not an overflow.
    sane = valid(ms) & (np.abs(millis) < 2**63 // 1000)
    response_ts = from_numpy(np.where(sane, millis, 0) * 1000, _TS, sane)
    names = [d.name for d in docs]
    return _arrow_table(
        "ocr_requests",
        {
            "request_id": strings(outcome.request_id),
            "source_uri": strings(
                [u if env else n for u, env, n in zip(uris, envelope, names, strict=True)]
            ),
            "source_sha256": child(source, "sha256"),
            "source_size_bytes": child(source, "size_bytes"),
            "source_format": child(source, "format"),
            "source_last_modified": child(source, "last_modified"),
            "api": strings(api),
            "version": version,
            "lang": child(options, "lang"),
            "template_ids": strings(template_ids),
            "enable_table_detection": child(options, "enable_table_detection"),
            "page_start": child(options, "page_start"),
            "page_end": child(options, "page_end"),
            "pages_sent": child(call, "pages_sent"),
            "pages_returned": pc.list_value_length(images_of_doc),
            "status": strings(outcome.status),
            "error_code": strings(outcome.error_code),
            "error_message": strings(outcome.error_message),
            "http_status": child(call, "http_status"),
            "attempts": child(call, "attempts"),
            "billable": child(call, "billable"),
            "billable_pages": child(call, "billable_pages"),
            "requested_at": child(call, "requested_at"),
            "completed_at": child(call, "completed_at"),
            "duration_ms": child(call, "duration_ms"),
            "response_version": child(response, "version"),
            "response_request_id": child(response, "requestId"),
            "response_timestamp": response_ts,
            "raw_uri": strings(names),
            "run_id": child(call, "run_id"),
            "parser_version": repeat_value(PARSER_VERSION, len(docs)),
            "content_hash": strings([d.content_hash for d in docs]),
        },
    )


def flatten_parsed(docs: Sequence[Document], table: pa.Table) -> dict[str, pa.Table]:
    """The seven tables of one parsed batch (see :func:`~.documents.parse_batch`)."""
    outcome = _outcomes(docs, table)
    for doc in docs:
        doc.release()
    response = column(table, "response")
    request_ids = strings(outcome.request_id)

    images = explode(_only(child(response, "images"), outcome.ok))
    img = images.values
    n_img = len(img)
    img_doc = images.parent
    options = column(table, "options")
    page_start = ints(child(options, "page_start"), 1)
    converted = child(img, "convertedImageInfo")
    page_index = child(converted, "pageIndex")
    page_offset = np.where(valid(page_index), ints(page_index, 0), images.position)
    fields = explode(child(img, "fields"))
    f = fields.values
    f_img = fields.parent
    tables = explode(child(img, "tables"))
    tab = tables.values
    title = child(img, "title")
    title_geo = geometry(title, with_bounding=True)
    combine: list[str | None] | None = None
    if any(d.combine for d in docs):
        combine = [
            (docs[d].combine or {}).get(i)
            for d, i in zip(img_doc.tolist(), images.position.tolist(), strict=True)
        ]

    out: dict[str, pa.Table] = {"ocr_requests": _requests(docs, table, outcome, images)}
    img_rid = _take(request_ids, img_doc)
    out["ocr_images"] = _arrow_table(
        "ocr_images",
        {
            "request_id": img_rid,
            "image_index": _ints(images.position),
            "source_page": _ints(page_start[img_doc] + page_offset),
            "uid": child(img, "uid"),
            "name": child(img, "name"),
            "infer_result": child(img, "inferResult"),
            "message": child(img, "message"),
            "matched_template_id": child(child(img, "matchedTemplate"), "id"),
            "matched_template_name": child(child(img, "matchedTemplate"), "name"),
            "validation_result": child(child(img, "validationResult"), "result"),
            "validation_message": child(child(img, "validationResult"), "message"),
            "converted_width": child(converted, "width"),
            "converted_height": child(converted, "height"),
            "page_index": page_index,
            "title_name": child(title, "name"),
            "title_infer_text": child(title, "inferText"),
            "title_infer_confidence": child(title, "inferConfidence"),
            **dict(
                zip(
                    ("title_polygon", "title_x_min", "title_y_min", "title_x_max", "title_y_max"),
                    title_geo.arrays(),
                    strict=True,
                )
            ),
            "combine_result": (
                strings(combine) if combine is not None else pa.nulls(n_img, pa.string())
            ),
            "field_count": _ints(fields.lengths),
            "table_count": _ints(tables.lengths),
            "parser_version": repeat_value(PARSER_VERSION, n_img),
        },
    )

    # Tables first: fields need their boxes to say which table holds them.
    table_geo = geometry(tab)
    cells = explode(child(tab, "cells"))
    cell = cells.values
    c_tab = cells.parent
    row_end = ints(child(cell, "rowIndex"), 0) + ints(child(cell, "rowSpan"), 1)
    col_end = ints(child(cell, "columnIndex"), 0) + ints(child(cell, "columnSpan"), 1)
    t_img = tables.parent
    t_rid = _take(img_rid, t_img)
    t_image_index = _ints(images.position[t_img])
    out["ocr_tables"] = _arrow_table(
        "ocr_tables",
        {
            "request_id": t_rid,
            "image_index": t_image_index,
            "table_index": _ints(tables.position),
            "infer_confidence": child(tab, "inferConfidence"),
            **_geometry_columns(table_geo.arrays()),
            "row_count": _ints(segment_reduce(np.maximum, row_end, cells.offsets, 0)),
            "column_count": _ints(segment_reduce(np.maximum, col_end, cells.offsets, 0)),
            "cell_count": _ints(cells.lengths),
            "parser_version": repeat_value(PARSER_VERSION, len(tab)),
        },
    )

    lines = explode(child(cell, "cellTextLines"))
    line = lines.values
    words = explode(child(line, "cellWords"))
    word = words.values
    word_text = pc.coalesce(child(word, "inferText"), _EMPTY)
    line_text = pc.binary_join(pa.ListArray.from_arrays(_ints(words.offsets), word_text), _SPACE)
    cell_text = pc.binary_join(pa.ListArray.from_arrays(_ints(lines.offsets), line_text), _NEWLINE)
    c_img = t_img[c_tab]
    out["ocr_table_cells"] = _arrow_table(
        "ocr_table_cells",
        {
            "request_id": _take(t_rid, c_tab),
            "image_index": _ints(images.position[c_img]),
            "table_index": _ints(tables.position[c_tab]),
            "cell_index": _ints(cells.position),
            "row_index": child(cell, "rowIndex"),
            "column_index": child(cell, "columnIndex"),
            "row_span": child(cell, "rowSpan"),
            "column_span": child(cell, "columnSpan"),
            "infer_confidence": child(cell, "inferConfidence"),
            "cell_text": cell_text,
            "line_count": _ints(lines.lengths),
            **_geometry_columns(geometry(cell).arrays()),
            "parser_version": repeat_value(PARSER_VERSION, len(cell)),
        },
    )
    w_line = words.parent
    w_cell = lines.parent[w_line]
    w_tab = c_tab[w_cell]
    out["ocr_cell_words"] = _arrow_table(
        "ocr_cell_words",
        {
            "request_id": _take(t_rid, w_tab),
            "image_index": _ints(images.position[t_img[w_tab]]),
            "table_index": _ints(tables.position[w_tab]),
            "cell_index": _ints(cells.position[w_cell]),
            "line_index": _ints(lines.position[w_line]),
            "word_index": _ints(words.position),
            "infer_text": child(word, "inferText"),
            "infer_confidence": child(word, "inferConfidence"),
            "line_infer_confidence": _take(child(line, "inferConfidence"), w_line),
            **_geometry_columns(geometry(word).arrays()),
            "parser_version": repeat_value(PARSER_VERSION, len(word)),
        },
    )

    field_geo = geometry(f, with_bounding=True)
    subfields = explode(child(f, "subFields"))
    out["ocr_fields"] = _arrow_table(
        "ocr_fields",
        {
            "request_id": _take(img_rid, f_img),
            "image_index": _ints(images.position[f_img]),
            "field_index": _ints(fields.position),
            "name": child(f, "name"),
            "value_type": child(f, "valueType"),
            "infer_text": child(f, "inferText"),
            "infer_confidence": child(f, "inferConfidence"),
            "type": child(f, "type"),
            "checked": child(f, "checked"),
            "line_break": child(f, "lineBreak"),
            "line_number": _line_numbers(f, fields, n_img),
            **_geometry_columns(field_geo.arrays()),
            "subfield_count": _ints(subfields.lengths),
            "table_index": _table_of_fields(
                field_geo.centres(),
                fields,
                tables,
                (table_geo.x_min, table_geo.y_min, table_geo.x_max, table_geo.y_max),
            ),
            "parser_version": repeat_value(PARSER_VERSION, len(f)),
        },
    )
    out["ocr_subfields"] = _subfields(img_rid, images, fields, subfields, child(title, "subFields"))
    return {name: out[name] for name in TABLES}


def _geometry_columns(arrays: list[pa.Array]) -> dict[str, pa.Array]:
    return dict(zip(("polygon", "x_min", "y_min", "x_max", "y_max"), arrays, strict=True))


def _subfields(
    img_rid: pa.Array,
    images: Exploded,
    fields: Exploded,
    subfields: Exploded,
    title_subfields: pa.Array,
) -> pa.Table:
    """Field subFields, and the title's at field_index -1, in key order."""
    titles = explode(title_subfields)
    s_img = np.concatenate((fields.parent[subfields.parent], titles.parent))
    field_index = np.concatenate(
        (fields.position[subfields.parent], np.full(len(titles.parent), -1, dtype=np.int64))
    )
    position = np.concatenate((subfields.position, titles.position))
    values = pa.concat_arrays([subfields.values, titles.values])
    if len(titles.parent):
        order = np.lexsort((position, field_index, s_img))
        s_img, field_index, position = s_img[order], field_index[order], position[order]
        values = _take(values, order)
    return _arrow_table(
        "ocr_subfields",
        {
            "request_id": _take(img_rid, s_img),
            "image_index": _ints(images.position[s_img]),
            "field_index": _ints(field_index),
            "subfield_index": _ints(position),
            "infer_text": child(values, "inferText"),
            "infer_confidence": child(values, "inferConfidence"),
            "line_break": child(values, "lineBreak"),
            **_geometry_columns(geometry(values, with_bounding=True).arrays()),
            "parser_version": repeat_value(PARSER_VERSION, len(values)),
        },
    )


__all__ = ["flatten_parsed"]
