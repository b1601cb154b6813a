"""Planner: deterministic request ids, page chunks, and clear rejections of bad input."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pypdfium2 as pdfium
import pytest
from PIL import Image

from clova_etl import identity
from clova_etl.config import LimitsConfig, RouteRule, default_routes
from clova_etl.pipeline import errors
from clova_etl.pipeline.pages import extract_pages, page_ranges
from clova_etl.pipeline.planner import PlannedObject, PlannedRequest, plan_object
from clova_etl.pipeline.routing import Router
from clova_etl.pipeline.storage import ObjectInfo

from .conftest import docx, encrypted_pdf, jpeg, pdf, png, tiff

ROUTER = Router(default_routes())
LIMITS = LimitsConfig()


def info(key: str, data: bytes, *, when: datetime | None = None) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        uri=f"s3://bucket/{key}",
        size=len(data),
        last_modified=when or datetime(2024, 5, 1, 12, tzinfo=UTC),
        etag="e1",
    )


def plan(key: str, data: bytes, **kw: object) -> PlannedObject:
    return plan_object(info(key, data), data, ROUTER, LIMITS, **kw)  # type: ignore[arg-type]


def test_image_request_and_stable_id() -> None:
    data = jpeg(seed=1)
    obj = plan("inbox/general/r.jpg", data)
    assert not obj.rejected and obj.format == "jpg" and obj.pages == 1
    (req,) = obj.requests
    assert (req.api, req.version, req.enable_table_detection) == ("general", "V2", True)
    assert (req.page_start, req.page_end, req.pages) == (None, None, 1)
    assert req.request_id == identity.request_id(
        source_sha256=identity.sha256_hex(data),
        api="general",
        version="V2",
        enable_table_detection=True,
    )
    # Same bytes under another key, another time, another "worker": same id.
    again = plan_object(
        info("inbox/general/copy of r.jpg", data, when=datetime(2030, 1, 1, tzinfo=UTC)),
        data,
        Router(default_routes()),
        LimitsConfig(),
    )
    assert again.request_ids == obj.request_ids


def test_options_change_the_id() -> None:
    data = png(seed=2)
    general = plan("inbox/general/a.png", data).request_ids
    template = plan("inbox/template/11/a.png", data).request_ids
    template2 = plan("inbox/template/12/a.png", data).request_ids
    lang = plan_object(
        info("a.png", data),
        data,
        Router([RouteRule(name="x", pattern="**", lang="ja", enable_table_detection=True)]),
        LIMITS,
    ).request_ids
    assert len({*general, *template, *template2, *lang}) == 4


def test_pdf_over_the_page_limit_becomes_chunks() -> None:
    data = pdf(12)
    obj = plan("inbox/general/long.pdf", data)
    assert obj.pages == 12 and len(obj.requests) == 2
    first, second = obj.requests
    assert (first.page_start, first.page_end, first.pages) == (1, 10, 10)
    assert (second.page_start, second.page_end, second.pages) == (11, 12, 2)
    assert first.request_id != second.request_id
    assert first.name == "long.pdf#p1-10"
    chunk = extract_pages(data, "pdf", 11, 12)
    doc = pdfium.PdfDocument(chunk)
    try:
        assert len(doc) == 2
    finally:
        doc.close()
    # Template OCR takes 5 pages per request.
    tmpl = plan("inbox/template/3/long.pdf", data)
    assert [(r.page_start, r.page_end) for r in tmpl.requests] == [(1, 5), (6, 10), (11, 12)]


def test_small_pdf_is_one_request_with_its_pages() -> None:
    obj = plan("inbox/general/short.pdf", pdf(3))
    (req,) = obj.requests
    assert (req.page_start, req.page_end, req.pages, req.object_pages) == (1, 3, 3, 3)


def test_multipage_tiff_chunks() -> None:
    data = tiff(7)
    obj = plan("inbox/template/5/scan.tif", data)
    assert [(r.page_start, r.page_end) for r in obj.requests] == [(1, 5), (6, 7)]
    chunk = extract_pages(data, "tiff", 6, 7)
    with Image.open(io.BytesIO(chunk)) as im:
        assert im.n_frames == 2
        im.seek(1)
        assert im.getpixel((0, 0)) == (6 * 30) % 256


def test_page_ranges() -> None:
    assert page_ranges(1, 10) == [(1, 1)]
    assert page_ranges(10, 10) == [(1, 10)]
    assert page_ranges(21, 10) == [(1, 10), (11, 20), (21, 21)]


def test_format_comes_from_the_bytes() -> None:
    obj = plan("inbox/general/photo.jpg", png(seed=3))  # a PNG named .jpg
    assert not obj.rejected and obj.format == "png"


def _flipped_pixel_bit(data: bytes) -> bytes:
    """One bit flipped inside a PNG's compressed pixels (its chunk CRC no longer matches)."""
    at = data.index(b"IDAT") + 4 + 10
    return data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("key", "data", "code", "words"),
    [  # named by the key: the bytes would make ids hundreds of characters long
        pytest.param(*case, id=case[0])
        for case in [
            ("inbox/general/empty.jpg", b"", errors.EMPTY_FILE, "0 bytes"),
            ("inbox/general/letter.docx", docx(), errors.UNSUPPORTED_FORMAT, "ZIP"),
            ("inbox/general/fake.pdf", docx(), errors.UNSUPPORTED_FORMAT, "named .pdf"),
            ("inbox/general/notes.txt", b"hello world", errors.UNSUPPORTED_FORMAT, "JPEG, PNG"),
            ("inbox/general/locked.pdf", encrypted_pdf(), errors.ENCRYPTED, "password"),
            (
                "inbox/general/broken.pdf",
                b"%PDF-1.4\n garbage",
                errors.UNREADABLE,
                "cannot be opened",
            ),
            ("inbox/general/cut.jpg", jpeg(800, 600)[:3000], errors.UNREADABLE, "truncated"),
            ("inbox/general/cut.png", png()[:200], errors.UNREADABLE, "truncated"),
            ("inbox/general/flipped.png", _flipped_pixel_bit(png()), errors.UNREADABLE, "checksum"),
            ("inbox/elsewhere/a.jpg", jpeg(), errors.NO_ROUTE, "no routing rule"),
        ]
    ],
)
def test_bad_inputs_are_rejected_with_a_reason(
    key: str, data: bytes, code: str, words: str
) -> None:
    obj = plan(key, data)
    assert obj.rejected
    assert obj.error_code == code
    assert obj.error_message and words in obj.error_message
    # The rejection is itself a request record (it becomes an ocr_requests row).
    (req,) = obj.requests
    assert req.rejected and req.error_code == code
    assert req.request_id  # deterministic, keyed by content
    assert plan(key, data).request_ids == obj.request_ids


def test_over_size_and_page_limits() -> None:
    data = jpeg()
    small = LimitsConfig(general_max_bytes=len(data) - 1)
    obj = plan_object(info("inbox/general/a.jpg", data), data, ROUTER, small)
    assert obj.error_code == errors.TOO_LARGE and "bytes" in (obj.error_message or "")
    pages = LimitsConfig(max_object_pages=4)
    obj = plan_object(info("inbox/general/a.pdf", pdf(5)), pdf(5), ROUTER, pages)
    assert obj.error_code == errors.TOO_MANY_PAGES


def test_unread_objects_are_recorded() -> None:
    i = info("inbox/general/huge.pdf", b"x" * 10)
    obj = plan_object(i, None, ROUTER, LIMITS, read_error=(errors.TOO_LARGE, "too big"))
    assert obj.error_code == errors.TOO_LARGE and obj.sha256 == ""
    assert (
        obj.requests[0].request_id
        == plan_object(i, None, ROUTER, LIMITS, read_error=(errors.TOO_LARGE, "too big"))
        .requests[0]
        .request_id
    )


def test_payloads_round_trip() -> None:
    obj = plan("inbox/general/long.pdf", pdf(12))
    again = PlannedObject.from_dict(obj.to_dict())
    assert again == obj
    req = obj.requests[1]
    assert PlannedRequest.from_dict({**req.to_dict(), "object": obj.meta()}) == req
    env_opts = req.options()
    assert (env_opts.page_start, env_opts.page_end) == (11, 12)
    assert req.source_info().uri == "s3://bucket/inbox/general/long.pdf"


def _items(*objects: int) -> list[dict[str, str]]:
    """Request dicts: ``objects[i]`` requests (page chunks) of object ``i``."""
    return [
        {"uri": f"o{i}", "request_id": f"o{i}-{n}"}
        for i, count in enumerate(objects)
        for n in range(count)
    ]


def test_batches_keep_an_objects_chunks_together() -> None:
    from clova_etl.pipeline.plan import batches

    out = batches(_items(1, 3, 1, 1), 2)
    assert [[r["request_id"] for r in b] for b in out] == [
        ["o0-0", "o1-0", "o1-1", "o1-2"],
        ["o2-0", "o3-0"],
    ]


@pytest.mark.parametrize(
    ("requests", "max_batches", "sizes"),
    [
        (10, 64, [2, 2, 2, 2, 2]),  # under the cap: batches of batch_size
        (10, 2, [5, 5]),  # over it: fewer, larger batches
        (11, 3, [4, 4, 3]),
        (5000, 64, [79] * 63 + [23]),
    ],
)
def test_max_batches_caps_the_number_of_batches(
    requests: int, max_batches: int, sizes: list[int]
) -> None:
    from clova_etl.pipeline.plan import batches

    out = batches(_items(*[1] * requests), 2, max_batches)
    assert [len(b) for b in out] == sizes and len(out) <= max_batches
    assert [r for b in out for r in b] == _items(*[1] * requests)
