"""The invoke URL as the console shows it, and the endpoint of each API under it."""

from __future__ import annotations

from typing import Literal

import httpx

__all__ = ["API_PATHS", "Api", "InvokeURL"]

Api = Literal["general", "template"]

API_PATHS: dict[Api, str] = {"general": "general", "template": "infer"}


class InvokeURL:
    """``https://….apigw.ntruss.com/custom/v1/{domain}/{signature}`` with or without
    ``/general`` or ``/infer``, or a plain base such as ``http://127.0.0.1:8080``."""

    __slots__ = ("base",)

    def __init__(self, url: str | httpx.URL) -> None:
        try:
            parsed = httpx.URL(str(url).strip())
        except httpx.InvalidURL as exc:
            raise ValueError(f"invoke URL cannot be parsed: {exc}") from None
        if parsed.scheme not in {"http", "https"} or not parsed.host:
            raise ValueError(
                f"invoke URL must be an absolute http(s) URL (scheme {parsed.scheme!r}): "
                "copy it from the CLOVA OCR console (Domain > API Gateway)"
            )
        if parsed.userinfo:
            raise ValueError("invoke URL must not embed credentials; pass the secret separately")
        if parsed.query or parsed.fragment:
            raise ValueError("invoke URL must not carry a query string or fragment")
        path = parsed.path.rstrip("/")
        for suffix in API_PATHS.values():
            if path.endswith("/" + suffix):
                path = path[: -len(suffix) - 1]
                break
        self.base = parsed.copy_with(path=path or "/")

    def endpoint(self, api: Api) -> httpx.URL:
        """The URL that serves ``api``: ``…/general`` or ``…/infer``."""
        path = self.base.path.rstrip("/") + "/" + API_PATHS[api]
        return self.base.copy_with(path=path)

    def __str__(self) -> str:
        return str(self.base)

    def __repr__(self) -> str:
        return f"InvokeURL({str(self.base)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InvokeURL) and other.base == self.base

    def __hash__(self) -> int:
        return hash(str(self.base))
