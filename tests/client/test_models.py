"""Response models against the real responses of the shared corpus and hand-made edge cases."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from clova_etl.client import (
    ErrorBody,
    MalformedResponseError,
    OCRResponse,
    ResponseValidationError,
    parse_error_body,
    parse_response,
)

DOCUMENT_OCR = "maltepoo__bar-guni__document-receipt-api"
ERROR_1021 = "dev-sngwn__sungwon.github.io__error-1021-not-found-deploy-info"


def test_every_ocr_result_of_the_corpus_parses(corpus_files: dict[str, Path]) -> None:
    results = {
        stem: parse_response(path.read_bytes())
        for stem, path in corpus_files.items()
        if stem not in {DOCUMENT_OCR, ERROR_1021}
    }
    assert len(results) == len(corpus_files) - 2 >= 8
    for stem, response in results.items():
        raw = orjson.loads(corpus_files[stem].read_bytes())
        assert len(response.images) == len(raw["images"]), stem
        for image, raw_image in zip(response.images, raw["images"], strict=True):
            assert len(image.fields) == len(raw_image.get("fields", [])), stem
            assert len(image.tables) == len(raw_image.get("tables", [])), stem
            texts = [f.infer_text for f in image.fields]
            assert texts == [f.get("inferText", "") for f in raw_image.get("fields", [])], stem
        assert response.billable_pages == len(response.images)


def test_v1_general_without_geometry(corpus_files: dict[str, Path]) -> None:
    r = parse_response(
        corpus_files["dev-sngwn__sungwon.github.io__v1-general-2019-nobbox"].read_bytes()
    )
    assert r.version == "V1"
    field = r.images[0].fields[0]
    assert field.bounding_poly is None and field.bounding is None and field.value_type is None
    assert field.type is None and field.line_break is None
    assert r.images[0].converted_image_info is None


def test_v1_template_uses_bounding(corpus_files: dict[str, Path]) -> None:
    r = parse_response(
        corpus_files["dev-sngwn__sungwon.github.io__v1-template-bounding-2019"].read_bytes()
    )
    image = r.images[0]
    assert image.matched_template is not None and image.matched_template.id > 0
    assert image.title is not None and image.title.bounding is not None
    assert image.fields[0].bounding is not None
    assert image.fields[0].bounding.width > 0
    assert image.fields[0].bounding_poly is None


def test_template_title_with_subfields_and_long_image(corpus_files: dict[str, Path]) -> None:
    r = parse_response(
        corpus_files["hangyeol17__Pill_Management__template-prescription"].read_bytes()
    )
    image = r.images[0]
    assert image.title is not None and image.title.sub_fields
    field = image.fields[0]
    assert len(field.sub_fields) == 41
    assert field.line_break is None  # template fields have none; subFields do
    assert all(s.line_break is not None for s in field.sub_fields)
    info = image.converted_image_info
    assert info is not None and info.long_image is not None
    assert info.model_dump(by_alias=True)["longImage"] == info.long_image


def test_tables_with_empty_cells_and_integer_numbers(corpus_files: dict[str, Path]) -> None:
    r = parse_response(
        corpus_files["Seongyoon-Jung__YamYamCoach__general-table-dietmenu-1"].read_bytes()
    )
    table = r.images[0].tables[0]
    assert len(table.cells) == 122
    assert sum(1 for c in table.cells if not c.cell_text_lines) == 27
    assert sum(1 for c in table.cells if c.row_span > 1) == 4
    vertex = r.images[0].fields[0].bounding_poly.vertices[0]  # type: ignore[union-attr]
    assert isinstance(vertex.x, float)  # written as an integer, read as a float
    words = [w for c in table.cells for line in c.cell_text_lines for w in line.cell_words]
    assert words and all(w.infer_text for w in words)


def test_general_v2_without_converted_image_info(corpus_files: dict[str, Path]) -> None:
    r = parse_response(corpus_files["maltepoo__bar-guni__general-receipt-kingmart"].read_bytes())
    image = r.images[0]
    assert image.converted_image_info is None
    assert len(image.fields) == 73
    assert all(f.line_break is not None for f in image.fields)
    assert image.validation_result is not None and image.validation_result.result == "NO_REQUESTED"


def test_document_ocr_receipt_is_rejected_clearly(corpus_files: dict[str, Path]) -> None:
    with pytest.raises(ResponseValidationError) as info:
        parse_response(corpus_files[DOCUMENT_OCR].read_bytes(), request_id="r-1")
    err = info.value
    assert not isinstance(err, MalformedResponseError)
    assert err.retryable is False
    assert err.request_id == "r-1"
    assert err.message == (
        "Document OCR response (images[0].receipt) is not a General/Template OCR result"
    )


def test_error_body_of_the_corpus(corpus_files: dict[str, Path]) -> None:
    raw = corpus_files[ERROR_1021].read_bytes()
    body = parse_error_body(raw)
    assert body is not None and body.code == "1021" and body.path and body.timestamp
    with pytest.raises(ResponseValidationError, match="images: Field required"):
        parse_response(raw)


def test_unknown_keys_are_kept() -> None:
    raw = {
        "version": "V2",
        "requestId": "r",
        "timestamp": 1,
        "savedBy": "someone",
        "images": [
            {
                "inferResult": "SUCCESS",
                "futureKey": {"a": 1},
                "fields": [{"inferText": "x", "inferConfidence": 1, "newFlag": True}],
            }
        ],
    }
    r = parse_response(orjson.dumps(raw))
    assert r.model_extra == {"savedBy": "someone"}
    assert r.images[0].model_extra == {"futureKey": {"a": 1}}
    assert r.images[0].fields[0].infer_confidence == 1.0
    assert r.images[0].fields[0].model_extra == {"newFlag": True}
    assert orjson.loads(r.model_dump_json(by_alias=True, exclude_unset=True)) == raw


def test_combine_result_object_or_list() -> None:
    base = {"version": "V2", "requestId": "r", "timestamp": 1}
    one = {
        **base,
        "images": [{"inferResult": "SUCCESS", "combineResult": {"name": "n", "text": "t"}}],
    }
    many = {
        **base,
        "images": [{"inferResult": "SUCCESS", "combineResult": [{"name": "a"}, {"name": "b"}]}],
    }
    assert [c.name for c in parse_response(orjson.dumps(one)).images[0].combine_result] == ["n"]
    assert [c.name for c in parse_response(orjson.dumps(many)).images[0].combine_result] == [
        "a",
        "b",
    ]


def test_billable_pages_skip_error_images() -> None:
    body = {
        "version": "V2",
        "requestId": "r",
        "timestamp": 1,
        "images": [
            {"inferResult": "SUCCESS"},
            {"inferResult": "ERROR", "message": "unreadable"},
            {"inferResult": "FAILURE"},
        ],
    }
    assert parse_response(orjson.dumps(body)).billable_pages == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"version": "V2", "requestId": "r", "timestamp": 1, "images": [{"inferRes',
            MalformedResponseError,
        ),
        (b"<html><body>502 Bad Gateway</body></html>", MalformedResponseError),
        (b"", MalformedResponseError),
        (b'"just a string"', ResponseValidationError),
        (
            b'{"version": "V2", "requestId": "r", "timestamp": 1, "images": []}',
            ResponseValidationError,
        ),
        (
            b'{"version": "V2", "requestId": "r", "timestamp": 1, '
            b'"images": [{"inferResult": "SUCCESS", "fields": [{"inferConfidence": "high"}]}]}',
            ResponseValidationError,
        ),
    ],
)
def test_malformed_bodies(body: bytes, expected: type[ResponseValidationError]) -> None:
    with pytest.raises(ResponseValidationError) as info:
        parse_response(body, request_id="r-9")
    assert type(info.value) is expected
    assert info.value.retryable is (expected is MalformedResponseError)
    assert info.value.request_id == "r-9"


def test_wrong_shape_names_the_path() -> None:
    body = (
        b'{"version": "V2", "requestId": "r", "timestamp": 1, '
        b'"images": [{"inferResult": "SUCCESS", "fields": [{"inferConfidence": "high"}]}]}'
    )
    with pytest.raises(ResponseValidationError, match=r"images\[0\]\.fields\[0\]\.inferConfidence"):
        parse_response(body)


def test_error_body_numeric_code_and_trace_id() -> None:
    body = ErrorBody.model_validate_json(b'{"code": 23, "message": "m", "traceId": "abc"}')
    assert body.code == "0023" and body.trace_id == "abc"
    assert parse_error_body(b"<html>") is None
    assert parse_error_body(b'{"images": []}') is None


def test_models_round_trip_by_alias(corpus_files: dict[str, Path]) -> None:
    raw = corpus_files["Marker-Inc-Korea__AutoRAG__general-table-pdfpage"].read_bytes()
    r = parse_response(raw)
    again = OCRResponse.model_validate_json(r.model_dump_json(by_alias=True))
    assert again == r
