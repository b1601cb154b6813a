"""Template OCR with the tesseract engine, over HTTP: matching, regions, MULTI_BOX, checkboxes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from clova_etl.samples import build_sample
from clova_etl.server.tesseract import TesseractEngine, parse_templates, sample_templates
from tests.ocr_quality.conftest import StartServer, ocr_call
from tests.ocr_quality.corpus import (
    DELIVERY_ID,
    DELIVERY_NAME,
    DELIVERY_TITLE,
    DELIVERY_VALUES,
    delivery_note,
    delivery_template_json,
    general_doc,
    write_delivery_templates,
)
from tests.ocr_quality.metrics import edit_distance, poly_box, squash

pytestmark = pytest.mark.tesseract


def _fields(image: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in image["fields"]}


def test_sample_claim_form_matches_its_template(
    start_ocr_server: StartServer, ocr_http: httpx.Client
) -> None:
    """`clova-etl samples`' form against the default deployment (its templates.json)."""
    server = start_ocr_server(engine="tesseract")
    (image,) = ocr_call(ocr_http, server, "png", build_sample("claim-form"), api="template")[
        "images"
    ]
    assert image["inferResult"] == "SUCCESS"
    assert image["matchedTemplate"] == {"id": 1001, "name": "claim-form"}
    assert squash(image["title"]["inferText"]) == "보험금청구서"
    assert poly_box(image["title"]["boundingPoly"]) == (200, 50, 800, 130)
    fields = _fields(image)
    assert list(fields) == [
        "name",
        "claim-no",
        "address",
        "amount",
        "fax-checkbox",
        "email-checkbox",
    ]
    assert fields["name"]["inferText"] == "홍길동"
    assert fields["amount"]["inferText"] == "1,250,000"
    claim = fields["claim-no"]
    assert (claim["type"], claim["valueType"], claim["inferText"]) == (
        "MULTI_BOX",
        "NUMERIC",
        "102831",
    )
    assert [s["inferText"] for s in claim["subFields"]] == list("102831")
    boxes = [poly_box(s["boundingPoly"]) for s in claim["subFields"]]
    assert boxes[0] == (330, 300, 391, 366) and boxes[-1] == (685, 300, 746, 366)
    address = fields["address"]["inferText"]
    assert "\n" in address  # two lines in the region
    truth = "서울특별시 중구 세종대로 110\n시청별관 3층 301호"
    assert edit_distance(squash(truth), squash(address)) <= 2
    assert fields["fax-checkbox"]["checked"] is True
    assert fields["email-checkbox"]["checked"] is False
    assert fields["fax-checkbox"]["type"] == "CHECKBOX"


def test_template_file_title_text_and_regions(
    start_ocr_server: StartServer, ocr_http: httpx.Client, tmp_path: Path
) -> None:
    """A template file of one's own: matched by its title text, every region read."""
    engine = TesseractEngine.from_template_file(write_delivery_templates(tmp_path / "t.json"))
    server = start_ocr_server(engine=engine, templates={DELIVERY_ID: DELIVERY_NAME})
    (image,) = ocr_call(ocr_http, server, "png", delivery_note(), api="template", lang="ko")[
        "images"
    ]
    assert image["matchedTemplate"] == {"id": DELIVERY_ID, "name": DELIVERY_NAME}
    assert squash(image["title"]["inferText"]) == squash(DELIVERY_TITLE)
    fields = _fields(image)
    assert fields["recipient"]["inferText"] == DELIVERY_VALUES["recipient"]
    assert fields["tracking-no"]["inferText"] == DELIVERY_VALUES["tracking-no"]
    assert len(fields["tracking-no"]["subFields"]) == 8
    memo = fields["memo"]["inferText"]
    assert memo.count("\n") == 1
    assert edit_distance(squash(str(DELIVERY_VALUES["memo"])), squash(memo)) <= 2  # measured 1
    assert [s["lineBreak"] for s in fields["memo"]["subFields"]].count(True) == 2
    assert fields["received-checkbox"]["checked"] is True
    assert fields["damaged-checkbox"]["checked"] is False


def test_no_matching_template_fails_the_image(
    start_ocr_server: StartServer, ocr_http: httpx.Client
) -> None:
    """A page no candidate fits → FAILURE without fields; templateIds narrow the candidates."""
    specs = [*sample_templates(), *parse_templates({"templates": [delivery_template_json()]})]
    server = start_ocr_server(
        engine=TesseractEngine(specs), templates={1001: "claim-form", DELIVERY_ID: DELIVERY_NAME}
    )
    receipt = general_doc("receipt-ko")
    (image,) = ocr_call(ocr_http, server, "png", receipt.data, api="template")["images"]
    assert image["inferResult"] == "FAILURE"
    assert "matchedTemplate" not in image and image["fields"] == []
    (image,) = ocr_call(
        ocr_http, server, "png", delivery_note(), api="template", templateIds=[1001]
    )["images"]
    assert image["inferResult"] == "FAILURE"
    (image,) = ocr_call(
        ocr_http, server, "png", delivery_note(), api="template", templateIds=[DELIVERY_ID]
    )["images"]
    assert image["matchedTemplate"]["id"] == DELIVERY_ID
    assert server.stats()["billable_calls"] == 3  # FAILURE is charged, as by the service
