"""Envelopes, bare bodies, error bodies, malformed inputs: one ocr_requests row each, no crash."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from clova_etl.envelope import CallRecord, RawEnvelope, RequestOptions, SourceInfo
from clova_etl.flatten import (
    MALFORMED_ENVELOPE,
    MALFORMED_RESPONSE,
    UNSUPPORTED_RESPONSE,
    flatten_documents,
)
from clova_etl.flatten.documents import content_hash
from clova_etl.identity import response_file_request_id
from clova_etl.schema import TABLES
from tests.flatten.reference import expected_rows, project

AUTORAG = "Marker-Inc-Korea__AutoRAG__general-table-pdfpage"
RECEIPT = "maltepoo__bar-guni__document-receipt-api"
ERROR_1021 = "dev-sngwn__sungwon.github.io__error-1021-not-found-deploy-info"
T0 = datetime(2025, 6, 1, 9, 30, 0, 250000, tzinfo=UTC)
T1 = datetime(2025, 6, 1, 9, 30, 2, tzinfo=UTC)

# The V2 General example of the API reference: vertices start bottom-left (vertical text).
SPEC_FIELD = {
    "valueType": "ALL",
    "inferText": "Beautiful",
    "inferConfidence": 0.99992156,
    "type": "NORMAL",
    "lineBreak": True,
    "boundingPoly": {
        "vertices": [
            {"x": 2713.7295, "y": 1277.0492},
            {"x": 2713.7295, "y": 977.7408},
            {"x": 2841.4343, "y": 977.7408},
            {"x": 2841.4343, "y": 1277.0492},
        ]
    },
}


def general(*fields: dict[str, Any], **image: Any) -> dict[str, Any]:
    """A bare V2 General response with one image."""
    return {
        "version": "V2",
        "requestId": "string",
        "timestamp": 1576569034247,
        "images": [
            {
                "uid": "u",
                "name": "medium",
                "inferResult": "SUCCESS",
                "message": "SUCCESS",
                "fields": list(fields),
                "validationResult": {"result": "NO_REQUESTED"},
                **image,
            }
        ],
    }


def envelope(
    response: dict[str, Any] | None,
    *,
    status: str = "succeeded",
    request_id: str = "rid-1",
    **call: Any,
) -> bytes:
    env = RawEnvelope(
        request_id=request_id,
        source=SourceInfo(
            uri="s3://inbox/scan.pdf",
            sha256="ab" * 32,
            size_bytes=1234,
            format="pdf",
            last_modified=T0,
        ),
        options=RequestOptions(
            api="general",
            version="V2",
            lang="ko",
            enable_table_detection=True,
            page_start=3,
            page_end=4,
        ),
        call=CallRecord(status=status, **call),
        response=response,
    )
    return env.model_dump_json().encode()


def flat(*docs: bytes | dict[str, Any]) -> dict[str, pa.Table]:
    items = [
        (f"doc-{i}.json", d if isinstance(d, bytes) else orjson.dumps(d))
        for i, d in enumerate(docs)
    ]
    return flatten_documents(items)


def request(tables: dict[str, pa.Table], i: int = 0) -> dict[str, Any]:
    row: dict[str, Any] = tables["ocr_requests"].to_pylist()[i]
    return row


def no_results(tables: dict[str, pa.Table]) -> bool:
    return all(tables[n].num_rows == 0 for n in TABLES if n != "ocr_requests")


def test_succeeded_envelope_carries_its_metadata(corpus_files: dict[str, Path]) -> None:
    response = json.loads(corpus_files[AUTORAG].read_bytes())
    data = envelope(
        response,
        http_status=200,
        attempts=2,
        billable=True,
        billable_pages=1,
        pages_sent=1,
        requested_at=T0,
        completed_at=T1,
        duration_ms=1750,
        run_id="run-7",
    )
    tables = flat(data)
    row = request(tables)
    assert row == {
        "request_id": "rid-1",
        "source_uri": "s3://inbox/scan.pdf",
        "source_sha256": "ab" * 32,
        "source_size_bytes": 1234,
        "source_format": "pdf",
        "source_last_modified": T0,
        "api": "general",
        "version": "V2",
        "lang": "ko",
        "template_ids": None,
        "enable_table_detection": True,
        "page_start": 3,
        "page_end": 4,
        "pages_sent": 1,
        "pages_returned": 1,
        "status": "succeeded",
        "error_code": None,
        "error_message": None,
        "http_status": 200,
        "attempts": 2,
        "billable": True,
        "billable_pages": 1,
        "requested_at": T0,
        "completed_at": T1,
        "duration_ms": 1750,
        "response_version": "V2",
        "response_request_id": "sample_id",
        "response_timestamp": datetime(2024, 8, 12, 9, 46, 26, 947000, tzinfo=UTC),
        "raw_uri": "doc-0.json",
        "run_id": "run-7",
        "parser_version": row["parser_version"],
        "content_hash": content_hash(data),
    }
    # page_start 3 + pageIndex 0.
    assert tables["ocr_images"].column("source_page").to_pylist() == [3]
    for name, rows in expected_rows(response, "rid-1").items():
        assert project(tables[name].to_pylist(), rows) == rows, name


def test_failed_call_without_response() -> None:
    tables = flat(
        envelope(
            None,
            status="failed",
            error_code="0025",
            error_message="rate limited",
            http_status=400,
            attempts=5,
        )
    )
    row = request(tables)
    assert (row["status"], row["error_code"], row["error_message"]) == (
        "failed",
        "0025",
        "rate limited",
    )
    assert (row["http_status"], row["attempts"], row["pages_returned"]) == (400, 5, None)
    assert row["request_id"] == "rid-1"
    assert no_results(tables)


def test_rejected_request() -> None:
    tables = flat(
        envelope(None, status="rejected", error_code="EMPTY_FILE", error_message="0 bytes")
    )
    row = request(tables)
    assert (row["status"], row["error_code"], row["error_message"]) == (
        "rejected",
        "EMPTY_FILE",
        "0 bytes",
    )
    assert no_results(tables)


def test_failed_call_with_error_body(corpus_files: dict[str, Path]) -> None:
    body = json.loads(corpus_files[ERROR_1021].read_bytes())
    row = request(flat(envelope(body, status="failed", http_status=400)))
    assert (row["status"], row["error_code"], row["error_message"]) == (
        "failed",
        "1021",
        "Not Found Deploy Info",
    )


def test_error_body_in_a_succeeded_envelope_is_a_failure(corpus_files: dict[str, Path]) -> None:
    body = json.loads(corpus_files[ERROR_1021].read_bytes())
    tables = flat(envelope(body))
    assert (request(tables)["status"], request(tables)["error_code"]) == ("failed", "1021")
    assert no_results(tables)


def test_succeeded_envelope_without_response() -> None:
    row = request(flat(envelope(None)))
    assert (row["status"], row["error_code"]) == ("failed", MALFORMED_ENVELOPE)


def test_envelope_recognised_whatever_its_key_order(corpus_files: dict[str, Path]) -> None:
    env = json.loads(envelope(json.loads(corpus_files[AUTORAG].read_bytes())))
    reordered = {k: env[k] for k in ("response", "call", "source", "options", "request_id")}
    reordered["clova_etl_envelope"] = 1
    compact = orjson.dumps(reordered)
    pretty = json.dumps(reordered, indent=2, ensure_ascii=False).encode()
    reference = flat(envelope(env["response"]))
    for data in (compact, pretty):
        tables = flat(data)
        for name in TABLES:
            got, want = tables[name], reference[name]
            if name == "ocr_requests":  # the hash is of the bytes, which differ
                assert got["content_hash"].to_pylist() == [content_hash(data)]
                got, want = got.drop_columns(["content_hash"]), want.drop_columns(["content_hash"])
            assert got.equals(want), name


def test_document_ocr_is_unsupported(corpus_files: dict[str, Path]) -> None:
    for data in (
        corpus_files[RECEIPT].read_bytes(),
        orjson.dumps(json.loads(corpus_files[RECEIPT].read_bytes())),
    ):
        tables = flat(data)
        row = request(tables)
        assert (row["status"], row["error_code"]) == ("failed", UNSUPPORTED_RESPONSE)
        assert "`receipt`" in row["error_message"]
        assert row["request_id"] == response_file_request_id(data)
        assert no_results(tables)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"version": "V2", "images": [{"fields": [', "not valid JSON"),
        (b"", "empty file"),
        (b"  \n", "empty file"),
        (b"[1, 2]", "not an array"),
        (b'"text"', "not a str value"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b'{"version":"V2","images":[{"fields":"abc"}]}', "response.images[0].fields"),
        (
            b'{"images":[{"fields":[{"boundingPoly":{"vertices":[{"x":"left","y":1}]}}]}]}',
            "response.images[0].fields[0].boundingPoly.vertices[0].x",
        ),
        (b'{"version":"V2"}', "neither images[] nor an error code"),
    ],
)
def test_malformed_inputs_are_failed_rows(data: bytes, message: str) -> None:
    tables = flat(data)
    row = request(tables)
    assert (row["status"], row["error_code"]) == ("failed", MALFORMED_RESPONSE)
    assert message in row["error_message"]
    assert row["request_id"] == response_file_request_id(data)
    assert row["source_uri"] == row["raw_uri"] == "doc-0.json"
    assert no_results(tables)


def test_truncated_envelope_is_a_failed_row() -> None:
    data = envelope(general(SPEC_FIELD))[:-40]
    row = request(flat(data))
    assert (row["status"], row["error_code"]) == ("failed", MALFORMED_RESPONSE)


def test_malformed_response_inside_an_envelope_keeps_the_envelope() -> None:
    body = general(SPEC_FIELD)
    body["images"][0]["tables"] = {"not": "a list"}
    row = request(flat(envelope(body)))
    assert (row["request_id"], row["source_uri"]) == ("rid-1", "s3://inbox/scan.pdf")
    assert (row["status"], row["error_code"]) == ("failed", MALFORMED_RESPONSE)
    assert "response.images[0].tables" in row["error_message"]


def test_bad_documents_do_not_spoil_their_batch(corpus_files: dict[str, Path]) -> None:
    good = orjson.dumps(json.loads(corpus_files[AUTORAG].read_bytes()))
    odd = orjson.dumps(general(dict(SPEC_FIELD, inferConfidence="0.5")))
    docs = [good, b"{broken", corpus_files[ERROR_1021].read_bytes(), odd, good, b""]
    tables = flat(*docs)
    statuses = tables["ocr_requests"].column("status").to_pylist()
    assert statuses == ["succeeded", "failed", "failed", "succeeded", "succeeded", "failed"]
    alone = flat(good)
    assert tables["ocr_fields"].num_rows == 2 * alone["ocr_fields"].num_rows + 1
    fields = tables["ocr_fields"].to_pylist()
    assert fields[69]["infer_confidence"] == 0.5
    assert tables["ocr_cell_words"].num_rows == 2 * 63


def test_unusual_spellings_are_read() -> None:
    cell = {
        "cellTextLines": [
            {"cellWords": [{"inferText": "a", "inferConfidence": 1}], "inferConfidence": 1}
        ],
        "rowIndex": 1.0,
        "columnIndex": "2",
        "rowSpan": 1,
        "columnSpan": 1,
        "inferConfidence": 1,
    }
    body = general(
        SPEC_FIELD,
        convertedImageInfo={"width": 595.0, "height": "842", "pageIndex": 0},
        tables=[{"cells": [cell], "inferConfidence": 0.9}],
        matchedTemplate={"id": "25072", "name": 7},
    )
    body["timestamp"] = 1576569034247.0
    tables = flat(body)
    assert request(tables)["status"] == "succeeded"
    image = tables["ocr_images"].to_pylist()[0]
    assert (image["converted_width"], image["converted_height"]) == (595, 842)
    assert (image["matched_template_id"], image["matched_template_name"]) == (25072, "7")
    c = tables["ocr_table_cells"].to_pylist()[0]
    assert (c["row_index"], c["column_index"], c["cell_text"]) == (1, 2, "a")
    t = tables["ocr_tables"].to_pylist()[0]
    assert (t["row_count"], t["column_count"]) == (2, 3)


def test_numeric_error_code() -> None:
    row = request(flat({"code": 28, "message": "table detection not enabled"}))
    assert (row["status"], row["error_code"]) == ("failed", "28")


def test_unknown_keys_are_ignored() -> None:
    plain = general(SPEC_FIELD)
    noisy = copy.deepcopy(plain)
    noisy["extra"] = {"deep": [1, {"x": None}]}
    noisy["images"][0]["longImage"] = False
    noisy["images"][0]["fields"][0]["rotation"] = {"angle": 90}
    noisy["images"][0]["fields"][0]["boundingPoly"]["vertices"][0]["z"] = 1
    a, b = flat(plain), flat(noisy)
    for name in TABLES:
        if name != "ocr_requests":
            assert (
                a[name].drop_columns(["request_id"]).equals(b[name].drop_columns(["request_id"]))
            ), name


def test_box_from_vertices_in_any_order() -> None:
    tables = flat(general(SPEC_FIELD))
    field = tables["ocr_fields"].to_pylist()[0]
    assert (field["x_min"], field["y_min"], field["x_max"], field["y_max"]) == (
        2713.7295,
        977.7408,
        2841.4343,
        1277.0492,
    )
    assert field["polygon"] == [
        2713.7295,
        1277.0492,
        2713.7295,
        977.7408,
        2841.4343,
        977.7408,
        2841.4343,
        1277.0492,
    ]
    assert field["line_number"] == 1
    assert field["table_index"] is None


def test_polygons_with_other_vertex_counts() -> None:
    tri = {
        "inferText": "t",
        "boundingPoly": {"vertices": [{"x": 1, "y": 5}, {"x": 4, "y": 2}, {"x": 0, "y": 9}]},
    }
    empty = {"inferText": "e", "boundingPoly": {"vertices": []}}
    partial = {"inferText": "p", "boundingPoly": {"vertices": [{"x": 3}, {"x": 7, "y": 8}]}}
    rows = flat(general(tri, empty, partial, SPEC_FIELD))["ocr_fields"].to_pylist()
    assert [r["polygon"] for r in rows[:3]] == [
        [1.0, 5.0, 4.0, 2.0, 0.0, 9.0],
        [],
        [3.0, None, 7.0, 8.0],
    ]
    assert [(r["x_min"], r["y_min"], r["x_max"], r["y_max"]) for r in rows[:3]] == [
        (0.0, 2.0, 4.0, 9.0),
        (None, None, None, None),
        (3.0, 8.0, 7.0, 8.0),
    ]
    assert rows[3]["x_min"] == 2713.7295


def test_v1_title_as_text_and_combine_result() -> None:
    body = general(SPEC_FIELD, title="Invoice", combineResult={"name": "total", "text": "12 원"})
    image = flat(body)["ocr_images"].to_pylist()[0]
    assert image["title_infer_text"] == "Invoice"
    assert image["title_polygon"] is None
    assert json.loads(image["combine_result"]) == {"name": "total", "text": "12 원"}


def test_failed_image_without_fields_is_not_unsupported() -> None:
    body = general()
    del body["images"][0]["fields"]
    body["images"][0].update(inferResult="ERROR", message="image too small")
    tables = flat(body)
    assert request(tables)["status"] == "succeeded"
    image = tables["ocr_images"].to_pylist()[0]
    assert (image["infer_result"], image["field_count"]) == ("ERROR", 0)


def test_pages_without_converted_image_info_count_from_page_start() -> None:
    body = general(SPEC_FIELD)
    body["images"] = [body["images"][0]] * 3
    assert flat(body)["ocr_images"].column("source_page").to_pylist() == [1, 2, 3]
    tables = flat(envelope(body))
    assert tables["ocr_images"].column("source_page").to_pylist() == [3, 4, 5]
    assert tables["ocr_fields"].column("image_index").to_pylist() == [0, 1, 2]


def test_absurd_numbers_become_null_not_a_crash() -> None:
    body = general(SPEC_FIELD, convertedImageInfo={"width": 2**40, "height": 10, "pageIndex": 0})
    image = flat(body)["ocr_images"].to_pylist()[0]
    assert (image["converted_width"], image["converted_height"]) == (None, 10)


def test_line_numbers_restart_per_image() -> None:
    body = general(*(dict(SPEC_FIELD, lineBreak=lb) for lb in (False, True, False, False)))
    body["images"].append(copy.deepcopy(body["images"][0]))
    body["images"][1]["fields"][0]["lineBreak"] = True
    numbers = flat(body)["ocr_fields"].column("line_number").to_pylist()
    assert numbers == [1, 1, 2, 2, 1, 2, 3, 3]


def test_bare_api_is_inferred() -> None:
    tpl = general(SPEC_FIELD, matchedTemplate={"id": 1, "name": "t"})
    tables = flat(general(SPEC_FIELD), tpl, {"code": "0011", "message": "bad"})
    assert tables["ocr_requests"].column("api").to_pylist() == ["general", "template", None]


def test_bad_envelope_value_keeps_the_rest_of_the_metadata() -> None:
    env = json.loads(envelope(general(SPEC_FIELD)))
    env["call"]["requested_at"] = "yesterday"
    tables = flat(json.dumps(env, indent=1).encode())
    row = request(tables)
    assert (row["status"], row["error_code"]) == ("failed", MALFORMED_ENVELOPE)
    assert "call.requested_at" in row["error_message"]
    assert (row["request_id"], row["source_uri"], row["page_start"]) == (
        "rid-1",
        "s3://inbox/scan.pdf",
        3,
    )
    assert no_results(tables)


def test_envelope_without_request_id_is_identified_by_its_bytes() -> None:
    env = json.loads(envelope(general(SPEC_FIELD)))
    del env["request_id"]
    data = orjson.dumps(env)
    row = request(flat(data))
    assert (row["status"], row["error_code"]) == ("failed", MALFORMED_ENVELOPE)
    assert row["request_id"] == response_file_request_id(data)
