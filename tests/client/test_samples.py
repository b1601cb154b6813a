"""The client on the project's sample documents (with embedded truth) over real HTTP: the
parsed models carry the words, template fields and tables the server recognised."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from clova_etl.client import ClovaOCRClient, Limits, OCRRequest
from clova_etl.server import RunningServer


def rid() -> str:
    return f"sample-{uuid.uuid4()}"


def test_samples_in_one_batch_through_both_transports(
    ocr_server: RunningServer, sample_docs: dict[str, Path]
) -> None:
    reqs = [
        OCRRequest(request_id=rid(), source=path, transport=transport)
        for path in sample_docs.values()
        for transport in ("multipart", "json")
    ]
    with ClovaOCRClient(
        ocr_server.invoke_url(), ocr_server.secret, limits=Limits(max_concurrency=4)
    ) as client:
        results = client.ocr_many(reqs)
    assert all(r.ok for r in results), [str(r.error) for r in results if r.error]
    # The same document gives the same words whichever transport carried it.
    for multipart, json in zip(results[::2], results[1::2], strict=True):
        assert multipart.response is not None and json.response is not None
        words_m = [[f.infer_text for f in i.fields] for i in multipart.response.images]
        words_j = [[f.infer_text for f in i.fields] for i in json.response.images]
        assert words_m == words_j and any(words_m)
        assert multipart.billable_pages == json.billable_pages == multipart.pages_sent
    pages = {r.request_id: r.pages_sent or 0 for r in results}
    assert sorted(set(pages.values())) == [1, 2, 3]  # png/jpg, fax-2p.tiff, contract-3p.pdf


def test_receipt_lines(ocr_server: RunningServer, sample_docs: dict[str, Path]) -> None:
    with ClovaOCRClient(ocr_server.invoke_url(), ocr_server.secret) as client:
        result = client.ocr(
            OCRRequest(request_id=rid(), source=sample_docs["receipt-ko"], lang="ko")
        )
    assert result.response is not None
    fields = result.response.images[0].fields
    assert fields and all(f.bounding_poly and len(f.bounding_poly.vertices) == 4 for f in fields)
    assert any(f.line_break for f in fields) and all(f.type == "NORMAL" for f in fields)
    assert any(any("\uac00" <= ch <= "\ud7a3" for ch in f.infer_text) for f in fields)  # Hangul


def test_invoice_table_detection(ocr_server: RunningServer, sample_docs: dict[str, Path]) -> None:
    req = OCRRequest(
        request_id=rid(), source=sample_docs["invoice-table"], enable_table_detection=True
    )
    with ClovaOCRClient(ocr_server.invoke_url(), ocr_server.secret) as client:
        result = client.ocr(req)
    assert result.response is not None
    tables = result.response.images[0].tables
    assert tables and tables[0].cells
    words = [
        w.infer_text for c in tables[0].cells for ln in c.cell_text_lines for w in ln.cell_words
    ]
    assert words


@pytest.mark.parametrize("version", ["V1", "V2"])
def test_claim_form_template(
    ocr_server: RunningServer, sample_docs: dict[str, Path], version: str
) -> None:
    req = OCRRequest(
        request_id=rid(),
        api="template",
        version=version,
        source=sample_docs["claim-form"],
        template_ids=[1001],
    )
    with ClovaOCRClient(ocr_server.invoke_url("template"), ocr_server.secret) as client:
        result = client.ocr(req)
    assert result.response is not None
    image = result.response.images[0]
    assert image.infer_result == "SUCCESS"
    assert image.matched_template is not None and image.matched_template.id == 1001
    assert image.fields and all(f.name for f in image.fields)
    if version == "V1":
        assert all(f.bounding is not None and f.bounding_poly is None for f in image.fields)
    else:
        assert all(f.bounding_poly is not None for f in image.fields)
        assert any(f.type == "CHECKBOX" and f.checked is not None for f in image.fields) or any(
            f.sub_fields for f in image.fields
        )
