"""The engine interface: a custom engine plugs in; its failures map to the API's answers."""

from __future__ import annotations

from collections.abc import Callable

from clova_etl.server import (
    PageInput,
    PageResult,
    RecognizeOptions,
    SyntheticEngine,
    box_quad,
    get_engine,
    word_field,
)
from tests.fixtures.ocr_server import RunningServer
from tests.server.helpers import assert_error, blank_pdf, blank_png, message, post_json

StartServer = Callable[..., RunningServer]


class PageSizeEngine:
    """Reads one word per page: the page size; page 1 of any document is unreadable."""

    name = "page-size"

    def __init__(self) -> None:
        self.seen: list[RecognizeOptions] = []

    def recognize(self, page: PageInput, options: RecognizeOptions) -> PageResult:
        self.seen.append(options)
        if page.index == 1:
            return PageResult(infer_result="ERROR", message="page unreadable")
        quad = box_quad(0, 0, page.width, page.height)
        text = f"{page.width}x{page.height}"
        return PageResult(fields=[word_field(text, quad, 0.5, line_break=True)])


class CrashingEngine:
    """An engine with a bug."""

    name = "crashing"

    def recognize(self, page: PageInput, options: RecognizeOptions) -> PageResult:
        raise RuntimeError("engine bug")


def test_custom_engine_and_error_pages_are_not_charged(start_ocr_server: StartServer) -> None:
    engine = PageSizeEngine()
    server = start_ocr_server(engine=engine)
    r = post_json(server, message("pdf", data=blank_pdf(3), request_id="e", lang="ko,ja"))
    assert r.status_code == 200
    images = r.json()["images"]
    assert [i["inferResult"] for i in images] == ["SUCCESS", "ERROR", "SUCCESS"]
    assert images[0]["fields"][0]["inferText"] == "200x100"
    assert images[1]["message"] == "page unreadable"
    assert engine.seen[0].lang == ("ko", "ja") and engine.seen[0].api == "general"
    stats = server.stats()
    assert (stats["billable_calls"], stats["billable_pages"]) == (1, 2)


def test_engine_crash_is_0501(start_ocr_server: StartServer) -> None:
    server = start_ocr_server(engine=CrashingEngine())
    assert_error(post_json(server, message("png", data=blank_png())), 500, "0501")
    assert server.stats()["billable_calls"] == 0


def test_engine_registry() -> None:
    assert isinstance(get_engine("synthetic"), SyntheticEngine)
    try:
        get_engine("nope")
    except ValueError as exc:
        assert "synthetic" in str(exc)
    else:
        raise AssertionError("unknown engine accepted")


def _png_with_damaged_pixels(*, fix_crc: bool) -> bytes:
    """blank_png() with its compressed pixel data overwritten (chunk CRC fixed or not)."""
    import struct
    import zlib

    data = bytearray(blank_png())
    at = data.index(b"IDAT") - 4
    (length,) = struct.unpack(">I", data[at : at + 4])
    body = at + 8
    data[body : body + length] = b"\xff" * length  # not a zlib stream any more
    if fix_crc:
        crc = zlib.crc32(data[at + 4 : body + length])
        data[body + length : body + length + 4] = struct.pack(">I", crc)
    return bytes(data)


def test_engine_that_reads_no_pixels_gets_verified_pngs_not_decoded_ones(
    start_ocr_server: StartServer,
) -> None:
    # The synthetic engine (reads_pixels = False) is answered from the PNG's header and its
    # chunk CRCs; an engine that reads pixels gets the decode, which sees the damage.
    damaged = _png_with_damaged_pixels(fix_crc=True)
    synthetic = start_ocr_server()
    (image,) = post_json(synthetic, message("png", data=damaged)).json()["images"]
    assert image["inferResult"] == "SUCCESS"
    (image,) = post_json(
        synthetic, message("png", data=_png_with_damaged_pixels(fix_crc=False))
    ).json()["images"]
    assert image["inferResult"] == "ERROR" and "cannot decode image" in image["message"]
    assert synthetic.stats()["billable_calls"] == 1

    pixels = start_ocr_server(engine=PageSizeEngine())
    (image,) = post_json(pixels, message("png", data=damaged)).json()["images"]
    assert image["inferResult"] == "ERROR" and "cannot decode image" in image["message"]
    (image,) = post_json(pixels, message("png", data=blank_png())).json()["images"]
    assert image["fields"][0]["inferText"] == "64x32"
