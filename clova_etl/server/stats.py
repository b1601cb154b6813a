"""Call counters of the local server, served at ``GET /_stats`` (test-server endpoint)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class ServerStats:
    """Thread-safe counters of calls, billable calls and pages, and answers by code.

    ``billable`` follows the reference: a call answered with results is charged for every
    image whose ``inferResult`` is not ``ERROR``; a call with no such image is not charged.
    Malformed and dropped answers are computed (and so charged) before they go wrong.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._total = 0
            self._billable = 0
            self._billable_pages = 0
            self._by_request: Counter[str] = Counter()
            self._billable_by_request: Counter[str] = Counter()
            self._by_code: Counter[str] = Counter()
            self._malformed = 0
            self._dropped = 0

    def call(self) -> None:
        """A call reached an OCR endpoint."""
        with self._lock:
            self._total += 1

    def request_id(self, request_id: str) -> None:
        """The call carried this ``requestId``."""
        with self._lock:
            self._by_request[request_id] += 1

    def answered(self, code: str) -> None:
        """An answer went out with this code ("200" for results)."""
        with self._lock:
            self._by_code[code] += 1

    def billed(self, request_id: str, pages: int) -> None:
        """The call was charged for ``pages`` images."""
        with self._lock:
            self._billable += 1
            self._billable_pages += pages
            self._billable_by_request[request_id] += 1

    def malformed(self) -> None:
        """A 200 answer was sent with a broken body."""
        with self._lock:
            self._malformed += 1

    def dropped(self) -> None:
        """A connection was closed without an answer."""
        with self._lock:
            self._dropped += 1
            self._by_code["dropped"] += 1

    def snapshot(self) -> dict[str, Any]:
        """The counters as JSON-ready values."""
        with self._lock:
            return {
                "total_calls": self._total,
                "billable_calls": self._billable,
                "billable_pages": self._billable_pages,
                "calls_by_request_id": dict(self._by_request),
                "billable_by_request_id": dict(self._billable_by_request),
                "responses_by_code": dict(self._by_code),
                "malformed_responses": self._malformed,
                "dropped_connections": self._dropped,
            }
