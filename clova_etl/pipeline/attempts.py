"""The ledger's ear on the OCR client: every attempt reserved before it leaves, settled after.

:class:`LedgerHooks` implements the client's :class:`~clova_etl.client.AttemptHooks` for one
batch. Before an attempt it checks the budget (a re-try reserves one more call atomically; the
first attempt of a request was reserved with its chunk) and writes the attempt's charge record;
after, it settles the record (answered / not billed / possibly billed), keeps the bytes of an
answer that could not be read, and notes what the budget may take back. Store I/O runs on the
batch's thread pool, never on the client's event loop.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Executor
from dataclasses import dataclass, field

from clova_etl.client import Charge, ClovaOCRError, OCRRequest
from clova_etl.pipeline.ledger import Claim, Ledger
from clova_etl.pipeline.ledger.budgets import Budgets
from clova_etl.pipeline.ledger.charges import Charge as ChargeRecord
from clova_etl.pipeline.planner import PlannedRequest


@dataclass
class _Request:
    """What the hooks know of one request of the chunk."""

    planned: PlannedRequest
    claim: Claim
    resend: bool
    reserved: bool = True  # its first attempt is covered by the chunk's reservation
    lost: int = 0  # attempts whose answer may have been billed and was lost


@dataclass
class ChargeCounts:
    """What the attempts of a batch cost, by outcome."""

    answered_calls: int = 0
    answered_pages: int = 0
    possibly_billed_calls: int = 0
    possibly_billed_pages: int = 0
    resent_calls: int = 0
    not_billed_calls: int = 0


@dataclass
class LedgerHooks:
    """Attempt hooks of one batch (see the module docstring)."""

    ledger: Ledger
    budgets: Budgets
    run_id: str
    executor: Executor
    counts: ChargeCounts = field(default_factory=ChargeCounts)
    answers: dict[str, str] = field(default_factory=dict)  # request_id -> kept answer's key
    _requests: dict[str, _Request] = field(default_factory=dict)
    _inflight: dict[tuple[str, int], ChargeRecord] = field(default_factory=dict)
    _give_back: list[int] = field(default_factory=lambda: [0, 0])
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, claimed: list[tuple[PlannedRequest, Claim, bool]]) -> None:
        """Requests claimed for sending (``resend``: its first attempt already is a re-send).

        Their first attempts were reserved in the budget with their chunk.
        """
        with self._lock:
            for p, c, resend in claimed:
                self._requests[p.request_id] = _Request(p, c, resend)

    def finish(self, request_id: str) -> None:
        """The request is done: a reservation it never used is owed back to the budget."""
        with self._lock:
            req = self._requests.pop(request_id, None)
            if req is not None and req.reserved:
                self._give_back[0] += 1
                self._give_back[1] += req.planned.pages

    def release_owed(self) -> None:
        """Give the budget back what finished requests reserved and did not spend."""
        with self._lock:
            calls, pages = self._give_back
            self._give_back = [0, 0]
        if calls or pages:
            self.budgets.release(self.run_id, calls, pages)

    def give_back(self) -> None:
        """Give the budget back what was reserved and not spent; forget the requests."""
        with self._lock:
            unused = [r.planned for r in self._requests.values() if r.reserved]
            calls = len(unused) + self._give_back[0]
            pages = sum(p.pages for p in unused) + self._give_back[1]
            self._requests, self._give_back = {}, [0, 0]
        if calls or pages:
            self.budgets.release(self.run_id, calls, pages)

    def lost_answers(self, request_id: str) -> int:
        """Attempts of a request whose answer may have been billed and was lost."""
        with self._lock:
            req = self._requests.get(request_id)
            return req.lost if req is not None else 0

    # -- the client's hooks ---------------------------------------------------------------------

    async def before_attempt(
        self, request: OCRRequest, attempt: int, pages: int | None
    ) -> str | None:
        """Reserve the attempt (budget, charge record); a string refuses it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._before, request.request_id, attempt)

    async def after_attempt(
        self,
        request: OCRRequest,
        attempt: int,
        charge: Charge,
        *,
        status: int | None,
        error: ClovaOCRError | None,
        billable_pages: int,
        body: bytes | None,
    ) -> None:
        """Settle the attempt's charge record."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self.executor,
            self._after,
            request.request_id,
            attempt,
            charge,
            status,
            error.code if error is not None else None,
            billable_pages,
            body if charge == "possibly_billed" and status is not None else None,
        )

    # -- their work, off the event loop ---------------------------------------------------------

    def _before(self, rid: str, attempt: int) -> str | None:
        with self._lock:
            req = self._requests[rid]
            covered, req.reserved = req.reserved, False
            resend = req.resend or req.lost > 0
        if not covered:
            allowed, message = self.budgets.reserve(self.run_id, [req.planned])
            if not allowed:
                return message or "budget reached"
        record = self.ledger.charges.reserve(
            request_id=rid,
            attempt=attempt,
            run_id=self.run_id,
            scope=self.budgets.scope,
            pages_expected=req.planned.pages,
            claim_token=req.claim.token,
            source_uri=req.planned.uri,
            resend=resend,
        )
        with self._lock:
            self._inflight[(rid, attempt)] = record
        return None

    def _after(
        self,
        rid: str,
        attempt: int,
        charge: Charge,
        status: int | None,
        code: str | None,
        billable_pages: int,
        body: bytes | None,
    ) -> None:
        with self._lock:
            record = self._inflight.pop((rid, attempt))
            req = self._requests[rid]
        answer_key = None
        if body is not None:
            # An answer the service sent and we could not read: kept as received.
            answer_key = f"answers/{rid}/{record.token}.body"
            self.ledger.store.write(answer_key, body)
        billed = billable_pages if charge == "answered" else 0
        self.ledger.charges.settle(
            record,
            charge,
            billed_pages=billed,
            http_status=status,
            error_code=code,
            answer_key=answer_key,
        )
        expected = req.planned.pages
        if charge == "not_billed":
            # Given back at once: a re-try of a throttled request must not starve the budget.
            self.budgets.release(self.run_id, 1, expected)
        with self._lock:
            c = self.counts
            if charge == "not_billed":
                c.not_billed_calls += 1
                return
            if charge == "answered":
                c.answered_calls += 1
                c.answered_pages += billed
                self._give_back[1] += max(0, expected - billed)
            else:
                c.possibly_billed_calls += 1
                c.possibly_billed_pages += expected
                req.lost += 1
                if answer_key is not None:
                    self.answers[rid] = answer_key
            if record.resend:
                c.resent_calls += 1


__all__ = ["ChargeCounts", "LedgerHooks"]
