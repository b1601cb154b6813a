"""Request options, limit checks before sending, and the bodies of both transports."""

from __future__ import annotations

import base64
import tracemalloc
from pathlib import Path

import httpx
import orjson
import pytest
from pydantic import ValidationError

from clova_etl.client import (
    MAX_PAGES,
    OCRRequest,
    RequestRejectedError,
    max_bytes,
    prepare,
)

MB = 1024 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def sparse_png(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that starts like a PNG (sparse: costs no disk)."""
    with open(path, "wb") as fh:
        fh.write(PNG_MAGIC)
        fh.truncate(size)
    return path


# -- options -------------------------------------------------------------------------------


def test_defaults_and_normalisation(docs: dict[str, Path]) -> None:
    req = OCRRequest(request_id="r1", source=str(docs["png"]), lang=" KO, zh-tw ,ko")
    assert req.api == "general" and req.version == "V2" and req.transport == "multipart"
    assert req.source == docs["png"]  # a str is a path, never the bytes of its text
    assert req.lang == "ko,zh-TW"
    assert OCRRequest(request_id="r", source=b"x", lang=["ja", "ko"]).lang == "ja,ko"
    assert OCRRequest(request_id="r", source=b"x", lang="").lang is None


def test_repr_never_shows_the_bytes() -> None:
    req = OCRRequest(request_id="r1", source=PNG_MAGIC + b"\x00" * 5000)
    assert "\\x89PNG" not in repr(req) and "source" not in repr(req)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lang": "en"}, "lang 'en' is not one of ko, ja, zh-TW"),
        ({"api": "general", "template_ids": [1]}, "template API only"),
        ({"api": "template", "enable_table_detection": True}, "general API only"),
        ({"version": "V3"}, "version"),
        ({"transport": "grpc"}, "transport"),
        ({"url": "https://x/y.png", "transport": "json", "format": "png"}, "exactly one"),
        ({"format": "png"}, "give it only with url"),
        ({"request_id": ""}, "request_id"),
    ],
)
def test_invalid_options(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"request_id": "r1", "source": b"x", **kwargs}
    with pytest.raises(ValidationError, match=message):
        OCRRequest(**fields)


def test_url_source_needs_json_and_format() -> None:
    with pytest.raises(ValidationError, match="transport='json'"):
        OCRRequest(request_id="r", url="https://h/a.jpg", format="jpg")
    with pytest.raises(ValidationError, match="needs format="):
        OCRRequest(request_id="r", url="https://h/a.jpg", transport="json")
    req = OCRRequest(request_id="r", url="https://h/a.jpg", transport="json", format="JPEG")
    prepared = prepare(req)
    assert prepared.format == "jpg" and prepared.size_bytes is None and prepared.pages is None


# -- limits --------------------------------------------------------------------------------


def test_format_comes_from_the_bytes_not_the_name(docs: dict[str, Path]) -> None:
    prepared = prepare(OCRRequest(request_id="r", source=docs["liar"]))
    assert prepared.format == "png" and prepared.pages == 1 and prepared.name == "really-a-png.pdf"
    for key, fmt in [("png", "png"), ("jpg", "jpg"), ("tiff", "tiff"), ("pdf", "pdf")]:
        assert prepare(OCRRequest(request_id="r", source=docs[key].read_bytes())).format == fmt


@pytest.mark.parametrize(
    ("doc", "code"),
    [("empty", "EMPTY_FILE"), ("text", "UNSUPPORTED_FORMAT")],
)
def test_rejected_documents(docs: dict[str, Path], doc: str, code: str) -> None:
    with pytest.raises(RequestRejectedError) as info:
        prepare(OCRRequest(request_id="r-x", source=docs[doc]))
    assert info.value.code == code and info.value.retryable is False
    assert info.value.request_id == "r-x"
    assert docs[doc].name in info.value.message


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(RequestRejectedError) as info:
        prepare(OCRRequest(request_id="r", source=tmp_path / "gone.png"))
    assert info.value.code == "UNREADABLE_FILE"


def test_corrupt_pdf_is_unreadable(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\nthis is not a pdf body")
    with pytest.raises(RequestRejectedError) as info:
        prepare(OCRRequest(request_id="r", source=bad))
    assert info.value.code == "UNREADABLE_FILE"


def test_page_limits(docs: dict[str, Path]) -> None:
    assert MAX_PAGES == {"general": 10, "template": 5}
    assert prepare(OCRRequest(request_id="r", source=docs["pdf5"], api="template")).pages == 5
    for doc, api in [("pdf11", "general"), ("pdf6", "template"), ("tiff6", "template")]:
        with pytest.raises(RequestRejectedError, match="split it into page ranges") as info:
            prepare(OCRRequest(request_id="r", source=docs[doc], api=api))
        assert info.value.code == "TOO_MANY_PAGES"
    assert prepare(OCRRequest(request_id="r", source=docs["tiff6"])).pages == 6


def test_size_limits(tmp_path: Path) -> None:
    assert max_bytes("general", "png") == 50 * MB
    assert max_bytes("template", "png") == 20 * MB
    assert max_bytes("template", "jpg") == 20 * MB
    assert max_bytes("template", "pdf") == 50 * MB
    assert max_bytes("template", "tiff") == 50 * MB
    big = sparse_png(tmp_path / "big.png", 21 * MB)
    assert prepare(OCRRequest(request_id="r", source=big)).size_bytes == 21 * MB
    with pytest.raises(RequestRejectedError, match="up to 20 MB") as info:
        prepare(OCRRequest(request_id="r", source=big, api="template"))
    assert info.value.code == "FILE_TOO_LARGE"
    huge = sparse_png(tmp_path / "huge.png", 50 * MB + 1)
    with pytest.raises(RequestRejectedError, match="up to 50 MB"):
        prepare(OCRRequest(request_id="r", source=huge))


# -- bodies --------------------------------------------------------------------------------


def test_message_of_a_template_request(docs: dict[str, Path]) -> None:
    req = OCRRequest(
        request_id="rid-7",
        api="template",
        version="V1",
        source=docs["png"],
        name="claim",
        lang="ko,ja",
        template_ids=[390, 12],
    )
    assert prepare(req).message(1584062336793) == {
        "version": "V1",
        "requestId": "rid-7",
        "timestamp": 1584062336793,
        "lang": "ko,ja",
        "images": [{"format": "png", "name": "claim", "templateIds": [390, 12]}],
    }


def test_message_of_a_general_request_with_tables(docs: dict[str, Path]) -> None:
    req = OCRRequest(request_id="rid-8", source=docs["pdf"], enable_table_detection=True)
    msg = prepare(req).message(5)
    assert msg["enableTableDetection"] is True and "lang" not in msg
    assert msg["images"] == [{"format": "pdf", "name": "pdf.pdf"}]


def _body(req: OCRRequest) -> tuple[httpx.Request, bytes]:
    client = httpx.AsyncClient()
    url = httpx.URL("http://127.0.0.1:9/general")
    with prepare(req).build(client, url, {"X-OCR-SECRET": "s"}, 42) as request:
        body = b"".join(request.stream)  # type: ignore[arg-type]
    return request, body


def test_json_body_carries_base64(docs: dict[str, Path]) -> None:
    data = docs["jpg"].read_bytes()
    request, body = _body(OCRRequest(request_id="r", source=data, transport="json"))
    assert request.headers["content-type"] == "application/json"
    msg = orjson.loads(body)
    assert base64.b64decode(msg["images"][0]["data"]) == data
    assert msg["images"][0]["format"] == "jpg" and msg["timestamp"] == 42
    assert msg["images"][0]["name"] == "r"


def test_multipart_body_has_message_and_file(docs: dict[str, Path]) -> None:
    data = docs["tiff"].read_bytes()
    request, body = _body(OCRRequest(request_id="r", source=docs["tiff"], lang="ja"))
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert int(request.headers["content-length"]) == len(body)
    assert b'name="message"' in body and b'name="file"; filename="tiff.tiff"' in body
    assert b"Content-Type: image/tiff" in body and data in body
    assert b'"lang":"ko"' not in body and b'"lang":"ja"' in body


def test_multipart_streams_the_file_without_a_copy(tmp_path: Path) -> None:
    """A 40 MB upload is read in chunks: peak memory stays far below the file (and base64)."""
    size = 40 * MB
    path = sparse_png(tmp_path / "large.png", size)
    client = httpx.AsyncClient()
    url = httpx.URL("http://127.0.0.1:9/general")
    prepared = prepare(OCRRequest(request_id="r", source=path))

    def peak_while_streaming(transport: str) -> tuple[int, int]:
        req = prepared.request.model_copy(update={"transport": transport})
        p = prepare(req)
        tracemalloc.start()
        try:
            sent = 0
            with p.build(client, url, {}, 1) as request:
                for chunk in request.stream:  # type: ignore[union-attr]
                    sent += len(chunk)
            return tracemalloc.get_traced_memory()[1], sent
        finally:
            tracemalloc.stop()

    peak, sent = peak_while_streaming("multipart")
    assert sent > size
    assert peak < 2 * MB, f"multipart peak {peak / MB:.1f} MB"
    json_peak, json_sent = peak_while_streaming("json")
    assert json_sent > size * 4 // 3
    assert json_peak > size  # the JSON transport must hold base64: why multipart is the default
