"""Planner: one object's bytes and key → its OCR request(s), or a clear rejection.

Pure (no I/O, no HTTP): the format comes from the bytes, the options from the routing rule, the
``request_id`` from :func:`clova_etl.identity.request_id`. Documents over the API's page limit
become page chunks, one request each, with their page numbers.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import orjson

from clova_etl import identity
from clova_etl.config import LimitsConfig, RouteRule
from clova_etl.envelope import RequestOptions, SourceInfo
from clova_etl.formats import MULTI_PAGE_FORMATS, SourceFormat, page_count, sniff_format
from clova_etl.pipeline import errors
from clova_etl.pipeline.pages import page_ranges
from clova_etl.pipeline.routing import Route, Router
from clova_etl.pipeline.storage import ObjectInfo

# Bumped when planning would give different requests for the same bytes and settings, so that
# cached plans (see clova_etl.pipeline.plan) made by older code are not reused.
PLANNER_VERSION = 2

# Options recorded for an object no rule routes (it is never sent).
_UNROUTED = Route("", "general", "V2", None, None, False)


@dataclass(frozen=True)
class PlannedRequest:
    """One OCR request to make (or that was rejected), as plain JSON-ready fields."""

    request_id: str
    key: str
    uri: str
    sha256: str
    size_bytes: int
    format: str | None
    last_modified: str
    route: str
    api: Literal["general", "template"]
    version: Literal["V1", "V2"]
    lang: str | None
    template_ids: list[int] | None
    enable_table_detection: bool
    page_start: int | None
    page_end: int | None
    pages: int
    object_pages: int | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def rejected(self) -> bool:
        """Whether the request must not be sent (bad input)."""
        return self.error_code is not None

    @property
    def name(self) -> str:
        """The image ``name`` sent to the API (the key's file name, with the page range)."""
        base = self.key.rsplit("/", 1)[-1]
        if self.page_start is not None and self.format in MULTI_PAGE_FORMATS:
            return f"{base}#p{self.page_start}-{self.page_end}"
        return base

    def options(self) -> RequestOptions:
        """The envelope's options block."""
        return RequestOptions(
            api=self.api,
            version=self.version,
            lang=self.lang,
            template_ids=self.template_ids,
            enable_table_detection=self.enable_table_detection,
            page_start=self.page_start,
            page_end=self.page_end,
        )

    def source_info(self) -> SourceInfo:
        """The envelope's source block."""
        from datetime import datetime

        return SourceInfo(
            uri=self.uri,
            sha256=self.sha256 or None,
            size_bytes=self.size_bytes,
            format=self.format,
            last_modified=datetime.fromisoformat(self.last_modified),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (XCom)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlannedRequest:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class PlannedObject:
    """An object and what became of it at planning: its requests, or why it is rejected."""

    info: ObjectInfo
    sha256: str
    format: str | None
    route: str | None
    pages: int | None
    requests: list[PlannedRequest] = field(default_factory=list)
    error_code: str | None = None
    error_message: str | None = None

    @property
    def rejected(self) -> bool:
        """Whether the whole object is rejected (no request will be sent)."""
        return self.error_code is not None

    @property
    def skipped(self) -> bool:
        """Whether the object was deliberately not processed (hidden, ignored)."""
        return self.error_code in errors.SKIPPED_CODES

    @property
    def request_ids(self) -> list[str]:
        """Ids of its requests, in page order."""
        return [r.request_id for r in self.requests]

    def meta(self) -> dict[str, Any]:
        """What later steps need to know about the object (carried with each of its requests)."""
        return {
            "uri": self.info.uri,
            "key": self.info.key,
            "version": self.info.version,
            "size_bytes": self.info.size,
            "last_modified": self.info.last_modified.isoformat(),
            "sha256": self.sha256,
            "format": self.format,
            "route": self.route,
            "pages": self.pages,
            "request_ids": self.request_ids,
            "error_code": self.error_code,
            "error_message": self.error_message,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (XCom)."""
        return {
            "info": self.info.to_dict(),
            "sha256": self.sha256,
            "format": self.format,
            "route": self.route,
            "pages": self.pages,
            "requests": [r.to_dict() for r in self.requests],
            "error_code": self.error_code,
            "error_message": self.error_message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlannedObject:
        """Inverse of :meth:`to_dict`."""
        return cls(
            info=ObjectInfo.from_dict(data["info"]),
            sha256=data["sha256"],
            format=data.get("format"),
            route=data.get("route"),
            pages=data.get("pages"),
            requests=[PlannedRequest.from_dict(r) for r in data.get("requests", [])],
            error_code=data.get("error_code"),
            error_message=data.get("error_message"),
        )


class _Reject(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _request(
    info: ObjectInfo,
    sha256: str,
    fmt: str | None,
    route: Route,
    pages: tuple[int, int] | None,
    *,
    object_pages: int | None = None,
    error: _Reject | None = None,
) -> PlannedRequest:
    page_start, page_end = pages if pages else (None, None)
    # An object whose bytes were never read has no content hash: key its id by the version.
    id_hash = sha256 or f"unread:{info.uri}:{info.version}"
    rid = identity.request_id(
        source_sha256=id_hash,
        api=route.api,
        version=route.version,
        lang=route.lang,
        template_ids=route.template_ids,
        enable_table_detection=route.enable_table_detection,
        page_start=page_start,
        page_end=page_end,
    )
    return PlannedRequest(
        request_id=rid,
        key=info.key,
        uri=info.uri,
        sha256=sha256,
        size_bytes=info.size,
        format=fmt,
        last_modified=info.last_modified.isoformat(),
        route=route.name,
        api=route.api,  # type: ignore[arg-type]
        version=route.version,  # type: ignore[arg-type]
        lang=route.lang,
        template_ids=list(route.template_ids) if route.template_ids else None,
        enable_table_detection=route.enable_table_detection,
        page_start=page_start,
        page_end=page_end,
        pages=(page_end - page_start + 1) if page_start is not None and page_end else 1,
        object_pages=object_pages,
        error_code=error.code if error else None,
        error_message=error.message if error else None,
    )


_DECODERS = {"png": "PngImagePlugin.PngImageFile", "jpg": "JpegImagePlugin.JpegImageFile"}


def _open_image(data: bytes, fmt: SourceFormat) -> Any:
    """The image, opened by its format's own plugin (headers read, no pixel decoded yet).

    Not through ``Image.open``: that applies Pillow's process-wide decompression-bomb limit
    (~89 Mpx, an error at twice that), and the limit here is ``limits.max_pixels``.
    """
    import importlib

    plugin, _, cls = _DECODERS.get(fmt, "TiffImagePlugin.TiffImageFile").partition(".")
    factory = getattr(importlib.import_module(f"PIL.{plugin}"), cls)
    return factory(io.BytesIO(data))


def _check_image(data: bytes, fmt: SourceFormat, max_pixels: int) -> None:
    """Check the image so that truncated or corrupt files are rejected before paying.

    A PNG is verified, not decoded: every chunk's CRC-32 up to ``IEND`` (``Image.verify``),
    which catches truncation and any accidental damage (a flipped bit in the compressed pixels
    fails its chunk's CRC) at a fraction of a decode's CPU. Only a file crafted with valid CRCs
    over invalid compressed data passes; the service then answers that image ``ERROR``, unbilled.
    A JPEG is decoded at 1/8 scale, a TIFF in full.
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open_image(data, fmt) as im:
                # Checked before a pixel is decoded: a bomb costs its header, not its size.
                if im.width * im.height > max_pixels:
                    raise _Reject(
                        errors.TOO_LARGE,
                        f"image has too many pixels: {im.width}x{im.height} is over "
                        f"limits.max_pixels ({max_pixels}); scan at a lower resolution or raise "
                        "the limit",
                    )
                if fmt == "png":
                    im.verify()
                    return
                if fmt == "jpg":
                    # Decoding at 1/8 scale still reads the whole stream, far cheaper.
                    im.draft("RGB", (max(1, im.width // 8), max(1, im.height // 8)))
                im.load()
    except Image.DecompressionBombError as exc:
        raise _Reject(errors.TOO_LARGE, f"image has too many pixels: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise _Reject(errors.UNREADABLE, f"{fmt} image is truncated or corrupt: {exc}") from exc


def _count_pages(data: bytes, fmt: SourceFormat, max_pixels: int) -> int:
    if fmt == "tiff":
        # Before counting frames: a TIFF of huge dimensions is refused as too large.
        _check_image(data, fmt, max_pixels)
    try:
        pages = page_count(data, fmt)
    except ValueError as exc:
        if fmt == "pdf" and _is_password_error(exc.__cause__):
            raise _Reject(
                errors.ENCRYPTED, "PDF is password-protected; supply an unencrypted copy"
            ) from exc
        raise _Reject(errors.UNREADABLE, f"{fmt} document cannot be opened: {exc}") from exc
    if pages < 1:
        raise _Reject(errors.UNREADABLE, f"{fmt} document has no pages")
    return pages


def _is_password_error(exc: BaseException | None) -> bool:
    import pypdfium2.raw as pdfium_c

    return getattr(exc, "err_code", None) in (
        pdfium_c.FPDF_ERR_PASSWORD,
        pdfium_c.FPDF_ERR_SECURITY,
    )


def _describe_unknown(key: str, head: bytes) -> str:
    ext = key.rsplit(".", 1)[-1].lower() if "." in key.rsplit("/", 1)[-1] else ""
    kind = "a ZIP container (docx/xlsx/…)" if head.startswith(b"PK\x03\x04") else "unrecognised"
    named = f" (named .{ext})" if ext else ""
    return f"content is {kind}{named}; supported formats are JPEG, PNG, PDF and TIFF"


def plan_object(
    info: ObjectInfo,
    data: bytes | None,
    router: Router,
    limits: LimitsConfig,
    *,
    read_error: tuple[str, str] | None = None,
) -> PlannedObject:
    """The request(s) for one object, or its rejection with a reason code and message.

    ``data`` is None when the bytes were not read; ``read_error`` then says why
    (``(code, message)``), e.g. a symlink refused or an object over ``max_object_bytes``.
    """
    route = router.route(info.key)
    sha = identity.sha256_hex(data) if data is not None else ""
    fmt: SourceFormat | None = None
    pages: int | None = None
    try:
        if read_error is not None or data is None:
            code, message = read_error or (errors.READ_ERROR, "object could not be read")
            raise _Reject(code, message)
        if route is None:
            raise _Reject(errors.NO_ROUTE, f"no routing rule matches key {info.key!r}")
        if not data:
            raise _Reject(errors.EMPTY_FILE, "object is empty (0 bytes)")
        fmt = sniff_format(data[:1024])
        if fmt is None:
            raise _Reject(errors.UNSUPPORTED_FORMAT, _describe_unknown(info.key, data[:8]))
        if fmt in MULTI_PAGE_FORMATS:
            pages = _count_pages(data, fmt, limits.max_pixels)
        else:
            _check_image(data, fmt, limits.max_pixels)
            pages = 1
        if pages > limits.max_object_pages:
            raise _Reject(
                errors.TOO_MANY_PAGES,
                f"{pages} pages; the limit is {limits.max_object_pages} (limits.max_object_pages)",
            )
        max_pages = limits.max_pages(route.api)
        ranges = page_ranges(pages, max_pages) if fmt in MULTI_PAGE_FORMATS else [None]
        max_bytes = limits.max_bytes(route.api, fmt)
        if len(ranges) == 1 and len(data) > max_bytes:
            raise _Reject(
                errors.TOO_LARGE,
                f"{len(data)} bytes; {route.api} OCR takes at most {max_bytes} bytes for {fmt}",
            )
    except _Reject as rej:
        return PlannedObject(
            info=info,
            sha256=sha,
            format=fmt,
            route=route.name if route else None,
            pages=pages,
            requests=[
                _request(info, sha, fmt, route or _UNROUTED, None, object_pages=pages, error=rej)
            ],
            error_code=rej.code,
            error_message=rej.message,
        )
    requests = [_request(info, sha, fmt, route, r, object_pages=pages) for r in ranges]
    return PlannedObject(
        info=info, sha256=sha, format=fmt, route=route.name, pages=pages, requests=requests
    )


def plan_key(routes: Sequence[RouteRule], limits: LimitsConfig) -> str:
    """Fingerprint of everything besides the bytes that decides an object's plan."""
    settings = {
        "planner": PLANNER_VERSION,
        "routes": [r.model_dump(mode="json") for r in routes],
        "limits": limits.model_dump(mode="json"),
    }
    return identity.sha256_hex(orjson.dumps(settings, option=orjson.OPT_SORT_KEYS))[:16]


__all__ = ["PLANNER_VERSION", "PlannedObject", "PlannedRequest", "plan_key", "plan_object"]
