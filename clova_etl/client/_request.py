"""One OCR request: the caller's options, the limit checks, and the HTTP body of each transport.

The file format comes from the bytes' magic (``clova_etl.formats``), never from a name. Limits
are checked before anything is sent, so a request the service would refuse costs nothing.
Multipart bodies stream the file from disk in chunks (httpx reads the open file object); only
the JSON transport holds the base64 copy the API requires there.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clova_etl.client._exceptions import RejectCode, RequestRejectedError
from clova_etl.client._url import Api
from clova_etl.formats import (
    MULTI_PAGE_FORMATS,
    SourceFormat,
    normalize_format,
    page_count,
    sniff_format,
)

__all__ = [
    "LANGUAGES",
    "MAX_PAGES",
    "OCRRequest",
    "PreparedRequest",
    "Transport",
    "Version",
    "max_bytes",
    "prepare",
]

Version = Literal["V1", "V2"]
Transport = Literal["multipart", "json"]

LANGUAGES: tuple[str, ...] = ("ko", "ja", "zh-TW")
_LANG_BY_LOWER = {lang.lower(): lang for lang in LANGUAGES}

_MB = 1024 * 1024
# Pages per request the service takes (PDF pages / TIFF frames).
MAX_PAGES: dict[Api, int] = {"general": 10, "template": 5}

_MIME: dict[SourceFormat, str] = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "pdf": "application/pdf",
    "tiff": "image/tiff",
}
_SNIFF_BYTES = 1024


def max_bytes(api: Api, fmt: SourceFormat) -> int:
    """Largest file the service takes: General 50 MB; Template 20 MB, PDF/TIFF 50 MB."""
    if api == "template" and fmt not in MULTI_PAGE_FORMATS:
        return 20 * _MB
    return 50 * _MB


class OCRRequest(BaseModel):
    """What to recognise and how: one document (bytes, a path, or a public URL) per request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str = Field(min_length=1, max_length=200)
    api: Api = "general"
    version: Version = "V2"
    source: bytes | Path | None = Field(default=None, repr=False)
    url: str | None = None
    format: SourceFormat | None = None
    name: str | None = None
    lang: str | None = None
    template_ids: tuple[int, ...] | None = None
    enable_table_detection: bool = False
    transport: Transport = "multipart"

    @field_validator("source", mode="before")
    @classmethod
    def _source_kind(cls, value: Any) -> Any:
        # Without this, pydantic would coerce a str path into the bytes of its own text.
        if isinstance(value, str | os.PathLike):
            return Path(value)
        if isinstance(value, bytearray | memoryview):
            return bytes(value)
        return value

    @field_validator("format", mode="before")
    @classmethod
    def _format_spelling(cls, value: Any) -> Any:
        if isinstance(value, str):
            return normalize_format(value) or value
        return value

    @field_validator("lang", mode="before")
    @classmethod
    def _lang(cls, value: Any) -> Any:
        if value is None:
            return None
        parts = value.split(",") if isinstance(value, str) else list(value)
        out: list[str] = []
        for part in parts:
            key = str(part).strip().lower()
            if not key:
                continue
            if key not in _LANG_BY_LOWER:
                raise ValueError(f"lang {part!r} is not one of {', '.join(LANGUAGES)}")
            if _LANG_BY_LOWER[key] not in out:
                out.append(_LANG_BY_LOWER[key])
        return ",".join(out) or None

    @model_validator(mode="after")
    def _consistent(self) -> OCRRequest:
        if (self.source is None) == (self.url is None):
            raise ValueError("give exactly one of source (bytes or a path) and url")
        if self.url is not None:
            if self.transport != "json":
                raise ValueError("a url source needs transport='json' (multipart sends a file)")
            if self.format is None:
                raise ValueError("a url source needs format= (there are no bytes to sniff)")
        elif self.format is not None:
            raise ValueError("format is read from the bytes; give it only with url")
        if self.template_ids is not None and self.api != "template":
            raise ValueError("template_ids are used by the template API only")
        if self.enable_table_detection and self.api != "general":
            raise ValueError("enable_table_detection is supported by the general API only")
        return self


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A request that passed the limit checks, ready to become HTTP (once per attempt)."""

    request: OCRRequest
    format: SourceFormat
    name: str
    size_bytes: int | None
    pages: int | None

    @property
    def request_id(self) -> str:
        """The caller's request id (sent as ``requestId``)."""
        return self.request.request_id

    def message(self, timestamp_ms: int) -> dict[str, Any]:
        """The request JSON without image data (the multipart ``message`` field)."""
        req = self.request
        image: dict[str, Any] = {"format": self.format, "name": self.name}
        if req.template_ids is not None:
            image["templateIds"] = list(req.template_ids)
        msg: dict[str, Any] = {
            "version": req.version,
            "requestId": req.request_id,
            "timestamp": timestamp_ms,
        }
        if req.lang:
            msg["lang"] = req.lang
        msg["images"] = [image]
        if req.enable_table_detection:
            msg["enableTableDetection"] = True
        return msg

    @contextmanager
    def build(
        self,
        client: httpx.AsyncClient,
        url: httpx.URL,
        headers: dict[str, str],
        timestamp_ms: int,
    ) -> Iterator[httpx.Request]:
        """The HTTP request of one attempt; a source file stays open while it is sent."""
        req = self.request
        msg = self.message(timestamp_ms)
        if req.transport == "json":
            image = msg["images"][0]
            if req.url is not None:
                image["url"] = req.url
            else:
                image["data"] = base64.b64encode(self._read_all()).decode("ascii")
            content = orjson.dumps(msg)
            del msg, image
            yield client.build_request(
                "POST",
                url,
                content=content,
                headers={**headers, "Content-Type": "application/json"},
            )
            return
        data = {"message": orjson.dumps(msg).decode()}
        if isinstance(req.source, bytes):
            files = {"file": (self.name, req.source, _MIME[self.format])}
            yield client.build_request("POST", url, data=data, files=files, headers=headers)
            return
        assert req.source is not None
        with open(req.source, "rb") as fh:
            files_io = {"file": (self.name, fh, _MIME[self.format])}
            yield client.build_request("POST", url, data=data, files=files_io, headers=headers)

    def _read_all(self) -> bytes:
        src = self.request.source
        return src if isinstance(src, bytes) else Path(str(src)).read_bytes()


def _reject(req: OCRRequest, code: RejectCode, message: str) -> RequestRejectedError:
    return RequestRejectedError(message, request_id=req.request_id, code=code)


def prepare(req: OCRRequest) -> PreparedRequest:
    """Check ``req`` against the service limits without sending anything.

    Raises :class:`RequestRejectedError` (``code`` EMPTY_FILE, UNSUPPORTED_FORMAT,
    FILE_TOO_LARGE, TOO_MANY_PAGES or UNREADABLE_FILE).
    """
    src = req.source
    if src is None:
        assert req.format is not None and req.url is not None
        name = req.name or req.request_id
        return PreparedRequest(req, req.format, name, size_bytes=None, pages=None)

    label = src.name if isinstance(src, Path) else f"{len(src)} bytes"
    name = req.name or (src.name if isinstance(src, Path) else req.request_id)
    try:
        if isinstance(src, Path):
            size = src.stat().st_size
            with open(src, "rb") as fh:
                head = fh.read(_SNIFF_BYTES)
        else:
            size, head = len(src), src[:_SNIFF_BYTES]
    except OSError as exc:
        raise _reject(req, "UNREADABLE_FILE", f"cannot read {label}: {exc.strerror}") from exc

    if size == 0:
        raise _reject(req, "EMPTY_FILE", f"{label} is empty: there is nothing to recognise")
    fmt = sniff_format(head)
    if fmt is None:
        raise _reject(
            req,
            "UNSUPPORTED_FORMAT",
            f"{label} is not JPEG, PNG, PDF or TIFF (judged by its first bytes, not its name)",
        )
    limit = max_bytes(req.api, fmt)
    if size > limit:
        raise _reject(
            req,
            "FILE_TOO_LARGE",
            f"{label} is {size / _MB:.1f} MB; {req.api} OCR takes {fmt.upper()} files up to "
            f"{limit // _MB} MB: split or compress it",
        )
    pages: int = 1
    if fmt in MULTI_PAGE_FORMATS:
        # Counting pages needs the whole document once; the bytes are dropped before sending.
        try:
            pages = page_count(src if isinstance(src, bytes) else src.read_bytes(), fmt)
        except Exception as exc:
            # pdfium/Pillow raise more than OSError/ValueError (e.g. DecompressionBombError).
            raise _reject(req, "UNREADABLE_FILE", f"cannot open {label} as {fmt}: {exc}") from exc
        if pages > MAX_PAGES[req.api]:
            raise _reject(
                req,
                "TOO_MANY_PAGES",
                f"{label} has {pages} pages; {req.api} OCR takes at most {MAX_PAGES[req.api]} "
                "per request: split it into page ranges",
            )
        if pages == 0:
            raise _reject(req, "EMPTY_FILE", f"{label} has no pages")
    return PreparedRequest(req, fmt, name, size_bytes=size, pages=pages)
