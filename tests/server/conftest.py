"""Set-up of the server tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.helpers import close_client


@pytest.fixture(scope="session", autouse=True)
def _shared_http_client() -> Iterator[None]:
    """Close the helpers' keep-alive client when the session ends."""
    yield
    close_client()
