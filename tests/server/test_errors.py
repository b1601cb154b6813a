"""Every error code of the reference, with its HTTP status and body shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.fixtures.ocr_server import RunningServer
from tests.server.helpers import (
    assert_error,
    b64,
    blank_pdf,
    blank_png,
    blank_tiff,
    message,
    post_json,
    post_multipart,
)

PNG = blank_png()


def test_unknown_path_is_0001_404(ocr_server: RunningServer) -> None:
    r = httpx.post(f"{ocr_server.base_url}/custom/v1/1/x/nope", json={})
    body = assert_error(r, 404, "0001")
    assert "/custom/v1/1/x/nope" in body["message"]


def test_wrong_method_is_0001_405(ocr_server: RunningServer) -> None:
    assert_error(httpx.get(ocr_server.invoke_url()), 405, "0001")


@pytest.mark.parametrize("secret", [None, "", "wrong-secret"])
def test_bad_secret_is_0002_401(ocr_server: RunningServer, secret: str | None) -> None:
    headers = {} if secret is None else {"X-OCR-SECRET": secret}
    r = httpx.post(ocr_server.invoke_url(), json=message("png", data=PNG), headers=headers)
    body = assert_error(r, 401, "0002")
    assert ocr_server.secret not in r.text
    assert body["message"] == "Secret key validate failed."


def _without(key: str) -> dict[str, Any]:
    body = message("png", data=PNG)
    del body[key]
    return body


def _image_edit(**changes: Any) -> dict[str, Any]:
    body = message("png", data=PNG)
    image = body["images"][0]
    for key, value in changes.items():
        if value is None:
            image.pop(key, None)
        else:
            image[key] = value
    return body


BAD_BODIES: dict[str, tuple[Any, str]] = {
    "no version": (_without("version"), "'version' is required"),
    "no requestId": (_without("requestId"), "'requestId' is required"),
    "no timestamp": (_without("timestamp"), "'timestamp' is required"),
    "no images": (_without("images"), "'images' is required"),
    "empty images": ({**message("png", data=PNG), "images": []}, "one image"),
    "two images": (
        {**message("png", data=PNG), "images": [message("png", data=PNG)["images"][0]] * 2},
        "only one image",
    ),
    "no data nor url": (_image_edit(data=None), "either 'images[0].data' or 'images[0].url'"),
    "bad base64": (_image_edit(data="not base64!!"), "not valid base64"),
    "unsupported format": (_image_edit(format="gif"), "'gif' is not supported"),
    "no format": (_image_edit(format=None), "'images[0].format' is required"),
    "no name": (_image_edit(name=None), "'images[0].name' is required"),
    "timestamp string": ({**message("png", data=PNG), "timestamp": "now"}, "'timestamp'"),
    "unknown lang": ({**message("png", data=PNG), "lang": "ko,fr"}, "'fr'"),
    "templateIds not ints": (_image_edit(templateIds=["a"]), "templateIds"),
    "not an object": ([1, 2], "JSON object"),
    "bad JSON": ("{not json", "not valid JSON"),
    "empty body": ("", "empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_invalid_body_is_0011_400(ocr_server: RunningServer, case: str) -> None:
    body, hint = BAD_BODIES[case]
    r = post_json(ocr_server, body)
    answer = assert_error(r, 400, "0011")
    assert hint in answer["message"]


def test_bad_multipart_is_0011(ocr_server: RunningServer) -> None:
    headers = {
        "X-OCR-SECRET": ocr_server.secret,
        "Content-Type": "multipart/form-data; boundary=xyz",
    }
    r = httpx.post(ocr_server.invoke_url(), content=b"garbage without parts", headers=headers)
    assert_error(r, 400, "0011")


def test_multipart_without_file_or_message_is_0011(ocr_server: RunningServer) -> None:
    headers = {"X-OCR-SECRET": ocr_server.secret}
    msg = json.dumps(message("png"))
    r = httpx.post(ocr_server.invoke_url(), files={"message": (None, msg)}, headers=headers)
    assert "'file'" in assert_error(r, 400, "0011")["message"]
    plain_file = {"message": (None, msg), "file": (None, "x")}
    r = httpx.post(ocr_server.invoke_url(), files=plain_file, headers=headers)
    assert "must be a file upload" in assert_error(r, 400, "0011")["message"]
    # A url-encoded form is neither of the two body types the API takes.
    r = httpx.post(ocr_server.invoke_url(), data={"message": msg}, headers=headers)
    assert "multipart/form-data" in assert_error(r, 400, "0011")["message"]
    r = httpx.post(
        ocr_server.invoke_url(), files={"file": ("a.png", PNG, "image/png")}, headers=headers
    )
    assert "'message'" in assert_error(r, 400, "0011")["message"]
    r = httpx.post(
        ocr_server.invoke_url(),
        data={"message": "{nope"},
        files={"file": ("a.png", PNG, "image/png")},
        headers=headers,
    )
    assert "not valid JSON" in assert_error(r, 400, "0011")["message"]


def test_multipart_two_files_is_0011(ocr_server: RunningServer) -> None:
    r = httpx.post(
        ocr_server.invoke_url(),
        headers={"X-OCR-SECRET": ocr_server.secret},
        data={"message": json.dumps(message("png"))},
        files=[("file", ("a.png", PNG, "image/png")), ("file", ("b.png", PNG, "image/png"))],
    )
    assert "only one image" in assert_error(r, 400, "0011")["message"]


@pytest.mark.parametrize("version", ["V3", "v2", "2"])
def test_unsupported_version_is_0021(ocr_server: RunningServer, version: str) -> None:
    r = post_json(ocr_server, message("png", data=PNG, version=version))
    assert version in assert_error(r, 400, "0021")["message"]


def test_version_checked_in_multipart_too(ocr_server: RunningServer) -> None:
    r = post_multipart(ocr_server, message("png", version="V9"), PNG)
    assert_error(r, 400, "0021")


def test_unknown_domain_is_0022(start_ocr_server: Callable[..., RunningServer]) -> None:
    server = start_ocr_server(domains=frozenset({"777"}))
    ok = post_json(server, message("png", data=PNG), url=server.invoke_url(domain="777"))
    assert ok.status_code == 200
    r = post_json(server, message("png", data=PNG), url=server.invoke_url(domain="778"))
    assert "'778'" in assert_error(r, 400, "0022")["message"]


def test_table_detection_disabled_is_0028(start_ocr_server: Callable[..., RunningServer]) -> None:
    server = start_ocr_server(table_detection=False)
    r = post_json(server, message("png", data=PNG, enableTableDetection=True))
    assert_error(r, 400, "0028")
    assert post_json(server, message("png", data=PNG)).status_code == 200
    # Table detection is a General OCR option: the template API ignores it.
    r = post_json(server, message("png", data=PNG, enableTableDetection=True), api="template")
    assert r.status_code == 200


def test_undeployed_template_ids_is_1021(ocr_server: RunningServer) -> None:
    r = post_json(ocr_server, message("png", data=PNG, templateIds=[999, 998]), api="template")
    body = assert_error(r, 400, "1021")
    assert "[999, 998]" in body["message"]
    # One known id among unknown ones is enough.
    r = post_json(ocr_server, message("png", data=PNG, templateIds=[999, 1001]), api="template")
    assert r.status_code == 200


def test_no_deployed_template_is_1021(start_ocr_server: Callable[..., RunningServer]) -> None:
    server = start_ocr_server(templates={})
    assert_error(post_json(server, message("png", data=PNG), api="template"), 400, "1021")


def test_template_ids_ignored_on_general(ocr_server: RunningServer) -> None:
    assert post_json(ocr_server, message("png", data=PNG, templateIds=[999])).status_code == 200


def test_general_page_limit_is_0011(ocr_server: RunningServer) -> None:
    ok = post_json(ocr_server, message("pdf", data=blank_pdf(10)))
    assert ok.status_code == 200
    assert len(ok.json()["images"]) == 10
    r = post_json(ocr_server, message("pdf", data=blank_pdf(11)))
    assert "11 pages" in assert_error(r, 400, "0011")["message"]


def test_template_page_limit_is_0011(ocr_server: RunningServer) -> None:
    ok = post_json(ocr_server, message("tiff", data=blank_tiff(5)), api="template")
    assert ok.status_code == 200
    assert len(ok.json()["images"]) == 5
    r = post_json(ocr_server, message("tiff", data=blank_tiff(6)), api="template")
    assert "up to 5" in assert_error(r, 400, "0011")["message"]


def test_size_limits_are_0011(start_ocr_server: Callable[..., RunningServer]) -> None:
    big_png = blank_png(400, 400)
    size = len(big_png)
    server = start_ocr_server(
        general_max_bytes=size - 1,
        template_max_bytes=size - 1,
        template_max_document_bytes=10_000_000,
    )
    r = post_json(server, message("png", data=big_png))
    assert "accepts PNG up to" in assert_error(r, 400, "0011")["message"]
    assert_error(post_json(server, message("png", data=big_png), api="template"), 400, "0011")
    # Template OCR allows bigger PDF/TIFF documents than images.
    tiff = blank_tiff(1, 400, 400)
    assert len(tiff) > size - 1
    assert post_json(server, message("tiff", data=tiff), api="template").status_code == 200


def test_default_limits_are_the_references() -> None:
    from clova_etl.server import ServerConfig

    config = ServerConfig(secret="s")
    assert config.general_max_bytes == 50 * 1024 * 1024
    assert config.template_max_bytes == 20 * 1024 * 1024
    assert config.template_max_document_bytes == 50 * 1024 * 1024
    assert (config.general_max_pages, config.template_max_pages) == (10, 5)


def test_oversized_body_is_refused_before_reading(
    start_ocr_server: Callable[..., RunningServer],
) -> None:
    server = start_ocr_server(
        general_max_bytes=1000, template_max_bytes=1000, template_max_document_bytes=1000
    )
    # The body cap is the largest limit, base64-inflated, plus 1 MiB of slack.
    payload = json.dumps(message("png", data=b"x" * (2 * 1024 * 1024)))
    r = post_json(server, payload)
    assert "request body is larger" in assert_error(r, 400, "0011")["message"]


def test_short_paths_work(ocr_server: RunningServer) -> None:
    for path in ("/general", "/infer"):
        r = post_json(ocr_server, message("png", data=PNG), url=ocr_server.base_url + path)
        assert r.status_code == 200, r.text


def test_error_body_is_json_with_charset(ocr_server: RunningServer) -> None:
    r = post_json(ocr_server, "{")
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["code"] == "0011"


def test_data_url_prefix_is_refused(ocr_server: RunningServer) -> None:
    body = message("png")
    body["images"][0]["data"] = "data:image/png;base64," + b64(PNG)
    assert "data URL" in assert_error(post_json(ocr_server, body), 400, "0011")["message"]


def test_line_wrapped_base64_is_accepted(ocr_server: RunningServer) -> None:
    body = message("png")
    text = b64(PNG)
    body["images"][0]["data"] = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    assert post_json(ocr_server, body).status_code == 200


def test_checks_run_in_a_fixed_order(start_ocr_server: Callable[..., RunningServer]) -> None:
    # One token per 100 s: the first call that passes the secret takes it, and none refills
    # before the next, however slow the machine.
    server = start_ocr_server(rate_limit=0.01, domains=frozenset({"1234"}))
    bad = message("png", data=PNG, version="V7")
    # Domain before secret, secret before rate limit, rate limit before body validation.
    r = post_json(server, bad, secret="nope", url=server.invoke_url(domain="9"))
    assert_error(r, 400, "0022")
    assert_error(post_json(server, bad, secret="nope"), 401, "0002")
    assert_error(post_json(server, bad), 400, "0021")
    assert_error(post_json(server, bad), 400, "0025")


def test_blank_document_helpers() -> None:
    from clova_etl.formats import page_count

    assert page_count(blank_pdf(3), "pdf") == 3
    assert page_count(blank_tiff(2), "tiff") == 2
