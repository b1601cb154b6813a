"""Fetching ``images[].url`` — only from allow-listed hosts, never following redirects.

The server runs next to other services: fetching any URL a caller names would let callers
reach them (SSRF). By default no host is allowed; ``--allow-url-host HOST`` opens one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from clova_etl.server.errors import body_invalid


def check_url(url: str, allowed_hosts: frozenset[str]) -> str:
    """The URL if its scheme is http(s) and its host is allowed, else a 0011 error."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        raise body_invalid("'images[0].url' is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise body_invalid("'images[0].url' must be an http(s) URL")
    if host not in allowed_hosts:
        raise body_invalid(
            f"url not allowed: host {host!r} is not in this server's allow-list "
            "(start it with --allow-url-host HOST, or send images[0].data)"
        )
    return url


async def fetch_url(url: str, *, max_bytes: int, timeout: float) -> bytes:
    """The body at ``url`` (200 only, at most ``max_bytes``), else a 0011 error."""
    try:
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise body_invalid(f"image url answered HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise body_invalid(f"image at url is larger than {max_bytes} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise body_invalid(f"cannot fetch image url: {type(exc).__name__}") from None
    data = b"".join(chunks)
    if not data:
        raise body_invalid("image at url is empty")
    return data
