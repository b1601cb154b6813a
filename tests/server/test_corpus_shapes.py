"""The server's answers use exactly the keys live CLOVA responses use (shared corpus, in place)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.fixtures.ocr_server import RunningServer
from tests.server.helpers import message, ocr, post_json

Keys = frozenset[str]


def _load(corpus_files: dict[str, Path], suffix: str) -> Any:
    (path,) = [p for stem, p in corpus_files.items() if stem.endswith(suffix)]
    return json.loads(path.read_text(encoding="utf-8"))


def _keys(items: list[dict[str, Any]]) -> Keys:
    return frozenset().union(*(item.keys() for item in items))


def _table_keys(image: dict[str, Any]) -> tuple[Keys, Keys, Keys, Keys]:
    tables = image["tables"]
    cells = [c for t in tables for c in t["cells"]]
    lines = [line for c in cells for line in c["cellTextLines"]]
    words = [w for line in lines for w in line["cellWords"]]
    return _keys(tables), _keys(cells), _keys(lines), _keys(words)


def test_general_v2_with_tables(
    ocr_server: RunningServer, sample_docs: dict[str, Path], corpus_files: dict[str, Path]
) -> None:
    real = _load(corpus_files, "general-table-pdfpage")
    mine = ocr(ocr_server, sample_docs["invoice-table"], "png", enableTableDetection=True)
    assert set(mine) == set(real)
    real_image, my_image = real["images"][0], mine["images"][0]
    # A PNG gets no convertedImageInfo (the real one was a PDF page).
    assert set(my_image) == set(real_image) - {"convertedImageInfo"}
    assert _keys(my_image["fields"]) == _keys(real_image["fields"])
    assert _table_keys(my_image) == _table_keys(real_image)


def test_general_v2_pdf_page(
    ocr_server: RunningServer, sample_docs: dict[str, Path], corpus_files: dict[str, Path]
) -> None:
    real = _load(corpus_files, "general-table-pdfpage")["images"][0]
    mine = ocr(ocr_server, sample_docs["contract-3p"], "pdf", enableTableDetection=True)
    image = mine["images"][0]
    assert set(image) == set(real)
    assert set(image["convertedImageInfo"]) == set(real["convertedImageInfo"]) - {"longImage"}


def test_general_v1(
    ocr_server: RunningServer, sample_docs: dict[str, Path], corpus_files: dict[str, Path]
) -> None:
    real = _load(corpus_files, "v1-general-pdf-paper")["images"][0]
    image = ocr(ocr_server, sample_docs["contract-3p"], "pdf", version="V1")["images"][0]
    assert set(image) == set(real)
    assert _keys(image["fields"]) == _keys(real["fields"])


def test_template_v2(
    ocr_server: RunningServer, sample_docs: dict[str, Path], corpus_files: dict[str, Path]
) -> None:
    real = _load(corpus_files, "template-prescription")["images"][0]
    image = ocr(ocr_server, sample_docs["claim-form"], "png", api="template")["images"][0]
    assert set(image) == set(real) - {"convertedImageInfo"}
    assert set(image["title"]) == set(real["title"])
    normal = [f for f in image["fields"] if f["type"] != "CHECKBOX"]
    assert _keys(normal) == _keys(real["fields"])
    subfields = [s for f in image["fields"] for s in f.get("subFields", [])]
    assert _keys(subfields) == _keys([s for f in real["fields"] for s in f["subFields"]])
    assert set(image["matchedTemplate"]) == set(real["matchedTemplate"])


def test_template_v1(
    ocr_server: RunningServer, sample_docs: dict[str, Path], corpus_files: dict[str, Path]
) -> None:
    real = _load(corpus_files, "v1-template-bounding-2019")["images"][0]
    image = ocr(ocr_server, sample_docs["claim-form"], "png", api="template", version="V1")
    image = image["images"][0]
    assert set(image) == set(real)
    assert set(image["title"]) == set(real["title"])
    assert _keys(image["fields"]) == _keys(real["fields"])
    assert set(image["fields"][0]["bounding"]) == set(real["fields"][0]["bounding"])


def test_error_body(ocr_server: RunningServer, corpus_files: dict[str, Path]) -> None:
    real = _load(corpus_files, "error-1021-not-found-deploy-info")
    r = post_json(ocr_server, message("png", data=b"x", templateIds=[5]), api="template")
    body = r.json()
    assert body["code"] == real["code"] == "1021"
    assert set(body) == set(real) | {"traceId"}
    assert isinstance(body["timestamp"], type(real["timestamp"]))
