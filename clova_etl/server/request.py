"""Validation of an OCR request message (the JSON body, or the ``message`` part of a form).

Checks run in the order the answer depends on: missing or ill-typed required keys → 0011,
``version`` not V1/V2 → 0021, then the single image entry → 0011.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Literal

from clova_etl.formats import SourceFormat, normalize_format
from clova_etl.server.errors import ApiError, body_invalid

Api = Literal["general", "template"]
Version = Literal["V1", "V2"]

LANGS = frozenset({"ko", "ja", "zh-TW"})


@dataclass(frozen=True)
class ImageSpec:
    """The one ``images[]`` entry of a request (bytes filled in later for url/multipart)."""

    format: SourceFormat
    declared_format: str
    name: str
    data: bytes | None
    url: str | None
    template_ids: tuple[int, ...] | None


@dataclass(frozen=True)
class OcrRequest:
    """A validated OCR request."""

    api: Api
    version: Version
    request_id: str
    timestamp: int | float
    lang: tuple[str, ...]
    image: ImageSpec
    table_detection: bool


def peek_request_id(message: Any) -> str | None:
    """The ``requestId`` of a message if it has a usable one (for statistics, before checks)."""
    if isinstance(message, dict):
        value = message.get("requestId")
        if isinstance(value, str) and value:
            return value
    return None


def parse_message(message: Any, api: Api, *, multipart: bool) -> OcrRequest:
    """Validate a decoded message; raise :class:`ApiError` (0011/0021) when it is not valid."""
    if not isinstance(message, dict):
        raise body_invalid("the body must be a JSON object")
    for key in ("version", "requestId", "timestamp", "images"):
        if key not in message or message[key] is None:
            raise body_invalid(f"'{key}' is required")
    version = message["version"]
    if not isinstance(version, str):
        raise body_invalid("'version' must be a string")
    if version not in ("V1", "V2"):
        raise ApiError("0021", f"Protocol version not support: {version!r} (use V1 or V2)")
    request_id = message["requestId"]
    if not isinstance(request_id, str) or not request_id:
        raise body_invalid("'requestId' must be a non-empty string")
    timestamp = message["timestamp"]
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        raise body_invalid("'timestamp' must be a number")
    lang = _parse_lang(message.get("lang"))
    table_detection = message.get("enableTableDetection", False)
    if table_detection is None:
        table_detection = False
    if not isinstance(table_detection, bool):
        raise body_invalid("'enableTableDetection' must be a boolean")
    image = _parse_images(message["images"], api, multipart=multipart)
    return OcrRequest(
        api=api,
        version=version,  # type: ignore[arg-type]  # checked above
        request_id=request_id,
        timestamp=timestamp,
        lang=lang,
        image=image,
        table_detection=table_detection,
    )


def _parse_lang(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if not isinstance(value, str):
        raise body_invalid('\'lang\' must be a string such as "ko" or "ko,ja,zh-TW"')
    langs = tuple(part.strip() for part in value.split(","))
    unknown = [part for part in langs if part not in LANGS]
    if unknown:
        raise body_invalid(f"'lang' value {unknown[0]!r} is not one of ko, ja, zh-TW")
    return langs


def _parse_images(value: Any, api: Api, *, multipart: bool) -> ImageSpec:
    if not isinstance(value, list):
        raise body_invalid("'images' must be a JSON array")
    if not value:
        raise body_invalid("'images' must hold one image")
    if len(value) > 1:
        raise body_invalid(f"only one image is accepted per request, got {len(value)}")
    entry = value[0]
    if not isinstance(entry, dict):
        raise body_invalid("'images[0]' must be a JSON object")
    declared = entry.get("format")
    if not isinstance(declared, str) or not declared:
        raise body_invalid("'images[0].format' is required")
    fmt = normalize_format(declared)
    if fmt is None:
        raise body_invalid(
            f"'images[0].format' {declared!r} is not supported (jpg, jpeg, png, pdf, tif, tiff)"
        )
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise body_invalid("'images[0].name' is required")
    template_ids = _parse_template_ids(entry.get("templateIds"))
    data: bytes | None = None
    url: str | None = None
    if not multipart:
        raw = entry.get("data")
        if raw is not None and raw != "":
            if not isinstance(raw, str):
                raise body_invalid("'images[0].data' must be a base64 string")
            data = _b64decode(raw)
        else:
            link = entry.get("url")
            if link is None or link == "":
                raise body_invalid("either 'images[0].data' or 'images[0].url' is required")
            if not isinstance(link, str):
                raise body_invalid("'images[0].url' must be a string")
            url = link
    return ImageSpec(
        format=fmt,
        declared_format=declared,
        name=name,
        data=data,
        url=url,
        template_ids=template_ids if api == "template" else None,
    )


def _parse_template_ids(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise body_invalid("'images[0].templateIds' must be an array of integers")
    return tuple(value) if value else None


def _b64decode(text: str) -> bytes:
    # Some clients send a data URL; the service wants the bare base64.
    if text.startswith("data:") and "," in text:
        raise body_invalid("'images[0].data' must be bare base64, not a data URL")
    try:
        # Line-wrapped (MIME style) base64 is still base64.
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise body_invalid("'images[0].data' is not valid base64") from None
    if not data:
        raise body_invalid("'images[0].data' is empty")
    return data
