"""OCR one batch of planned requests, idempotently: claim, check the budget, send, store.

The Airflow ``ocr`` task and ``clova-etl ingest`` both call :func:`ocr_batch`; the ledger
(:mod:`clova_etl.pipeline.ledger`) holds everything shared between the processes doing this.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from clova_etl.config import PipelineConfig
from clova_etl.pipeline import errors
from clova_etl.pipeline.attempts import LedgerHooks
from clova_etl.pipeline.ledger import Claim, ClaimKeeper, open_ledger, utcnow
from clova_etl.pipeline.ledger.budgets import Budgets
from clova_etl.pipeline.pages import extract_pages
from clova_etl.pipeline.planner import PlannedRequest
from clova_etl.pipeline.reads import ReadAttempts, RecentReads, carriers, request_bytes
from clova_etl.pipeline.storage import open_source

logger = logging.getLogger("clova_etl.pipeline")


@dataclass
class BatchSummary:
    """What one :func:`ocr_batch` did (JSON-ready through :meth:`to_dict`)."""

    run_id: str
    requests: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    rejected: int = 0
    transient: int = 0
    skipped_existing: int = 0
    skipped_claimed: int = 0
    not_sent: int = 0
    billable_calls: int = 0
    billable_pages: int = 0
    answered_calls: int = 0
    answered_pages: int = 0
    possibly_billed_calls: int = 0
    possibly_billed_pages: int = 0
    resent_calls: int = 0
    stopped: str | None = None
    message: str | None = None
    request_ids: list[str] = field(default_factory=list)
    pending_ids: list[str] = field(default_factory=list)
    pending_reasons: dict[str, str] = field(default_factory=dict)
    objects: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (XCom)."""
        return asdict(self)


# The additive counters of a batch summary, summed over a run's batches.
OCR_COUNTERS: tuple[str, ...] = tuple(
    f.name for f in fields(BatchSummary) if f.type in (int, "int")
)


class _BatchRun:
    """State of one ocr_batch call: stores, clients, counters."""

    def __init__(self, config: PipelineConfig, run_id: str, force: bool) -> None:
        from clova_etl.pipeline.calls import secrets_of

        self.config = config
        self.run_id = run_id
        self.force = force
        self.source = open_source(config)
        self.ledger = open_ledger(config)
        self.budgets = Budgets(self.ledger.store, config.budget)
        self.keeper = ClaimKeeper(self.ledger.claims, config.run.claim_ttl_seconds)
        self.secrets = secrets_of(config.ocr)
        self.summary = BatchSummary(run_id=run_id)
        self.done: set[str] = set()
        self.pending: dict[str, str] = {}
        self.config_error: str | None = None
        # Store I/O of the attempts (charges, budgets, the shared rate) runs here, never on the
        # client's event loop: one thread per request in flight, plus the rate limiter's.
        self.executor = ThreadPoolExecutor(
            max_workers=config.ocr.concurrency + 2, thread_name_prefix="clova-etl-ledger"
        )
        self.hooks = LedgerHooks(self.ledger, self.budgets, run_id, self.executor)
        # One thread prepares the chunks and stores the answers: the batch's own state
        # (summary, done, pending) is only ever changed there, or here before and after.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clova-etl-writer")
        self._bytes = RecentReads()
        self.carriers: dict[str, list[str]] = {}
        self.read_attempts = ReadAttempts(self.ledger.store, config.run.max_read_attempts)
        self._clients: dict[str, Any] | None = None
        self.on_answer: Callable[[int], None] | None = None
        self.closing = False  # set when the batch stops: no further chunk is prepared

    def client(self, api: str) -> Any:
        """The OCR client of an API, built on first use (dry steps never need the endpoint)."""
        from clova_etl.pipeline.calls import build_clients

        if self._clients is None:
            self._clients = build_clients(
                self.config.ocr, hooks=self.hooks, store=self.ledger.store, executor=self.executor
            )
        return self._clients[api]

    def close(self) -> None:
        """Close the clients' connection pools and the ledger's threads."""
        for client in {id(c): c for c in (self._clients or {}).values()}.values():
            client.close()
        self._clients = None
        self.writer.shutdown(wait=True)
        self.executor.shutdown(wait=True)

    # Each request ends in exactly one of these three helpers.
    def finished(self, rid: str) -> None:
        self.done.add(rid)
        self.pending.pop(rid, None)

    def defer(self, rid: str, reason: str) -> None:
        if rid not in self.done:
            self.pending[rid] = reason

    def reject(self, req: PlannedRequest, code: str, message: str) -> None:
        from clova_etl.pipeline.calls import rejected_envelope

        self.summary.rejected += 1
        self.finished(req.request_id)
        old = self.ledger.read_envelope(req.request_id)
        if old is not None and (old.call.status, old.call.error_code) == ("rejected", code):
            return  # recorded before for the same reason: keep that record (identical rows)
        env = rejected_envelope(req, self.run_id, code, message, at=utcnow())
        self.ledger.write_envelope(env)
        logger.warning(
            "ocr rejected request_id=%s uri=%s code=%s: %s", req.request_id, req.uri, code, message
        )

    def already_answered(self, req: PlannedRequest) -> bool:
        """Whether the raw store holds an answer this call must not repeat."""
        if not self.force:
            return self.ledger.has_raw(req.request_id)
        # A forced re-OCR is done once per run: a retried task does not pay twice.
        env = self.ledger.read_envelope(req.request_id)
        return env is not None and env.call.status != "rejected" and env.call.run_id == self.run_id

    def is_resend(self, req: PlannedRequest, claim: Claim) -> bool:
        """Whether sending ``req`` now may pay for it a second time.

        So it is when forced over a stored answer, when an earlier run lost an answer that may
        have been billed, or when the claim was taken over from a worker that died with the
        request in flight.
        """
        rid = req.request_id
        if self.force and self.ledger.has_raw(rid):
            return True
        if self.ledger.lost_answers(rid):
            return True
        if claim.replaced is None or claim.replaced_run is None:
            return False
        return self.ledger.charges.unsettled(
            rid, claim.replaced, claim.replaced_run, self.budgets.scope
        )

    def document(self, req: PlannedRequest) -> bytes | tuple[str, str] | None:
        """The bytes to send, a rejection ``(code, message)``, or None (read failed: defer)."""
        keys = [req.key, *self.carriers.get(req.request_id, ())]
        data = request_bytes(self.source, req.sha256, keys, self._bytes, self.read_attempts)
        if data is None or isinstance(data, tuple):
            return data
        if req.format in ("pdf", "tiff") and req.page_start is not None:
            assert req.page_end is not None
            whole = (req.page_start, req.page_end) == (1, req.object_pages)
            try:
                if not whole:
                    data = extract_pages(data, req.format, req.page_start, req.page_end)  # type: ignore[arg-type]
            except (ValueError, OSError, RuntimeError) as exc:  # PdfiumError is a RuntimeError
                return (
                    errors.UNREADABLE,
                    f"pages {req.page_start}-{req.page_end} cannot be extracted: {exc}",
                )
        limit = self.config.limits.max_bytes(req.api, req.format or "")
        if len(data) > limit:
            return (
                errors.TOO_LARGE,
                f"pages {req.page_start}-{req.page_end} are {len(data)} bytes; {req.api} OCR "
                f"takes at most {limit}",
            )
        return data


def ocr_batch(
    config: PipelineConfig,
    batch: Sequence[dict[str, Any]],
    run_id: str,
    *,
    force: bool = False,
    on_answer: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """OCR one batch of planned requests, idempotently; return a :class:`BatchSummary` dict.

    ``on_answer`` is called (from the batch's writer thread) after each answer is stored, with
    the calls billed so far: a progress display's hook.

    The batch is sent as one stream, prepared ``run.batch_size`` requests at a time (one budget
    reservation and one claim round each, the next prepared while the last is in flight). For
    each request: skip it if its answer is in the raw store (unless ``force``); write the
    envelope of a rejected one; check the budget before sending; claim it (skip it if another
    worker holds a live claim); send it; store the answer atomically with its metadata, record
    its cost, release the claim. Quota exhaustion
    (0023) and the budget stop the batch cleanly (``stopped`` = ``"quota"``/``"budget"``, the
    rest stays pending for a later run); a wrong URL/secret/domain raises
    :class:`~clova_etl.pipeline.errors.ConfigurationError` after the answers already received
    are stored.
    """
    run = _BatchRun(config, run_id, force)
    run.on_answer = on_answer
    summary = run.summary
    reqs = [PlannedRequest.from_dict(d) for d in batch]
    run.carriers = carriers(reqs)
    summary.requests = len(reqs)
    metas: dict[str, dict[str, Any]] = {}
    for d in batch:
        metas.setdefault(d["uri"], d.get("object") or {})
    summary.objects = list(metas.values())

    sendable: list[PlannedRequest] = []
    seen: set[str] = set()
    for req in reqs:
        if req.request_id in seen:
            continue  # the same bytes under two keys: one request serves both objects
        seen.add(req.request_id)
        if req.rejected:
            if run.ledger.has_raw(req.request_id):
                run.finished(req.request_id)
            else:
                run.reject(req, req.error_code or errors.READ_ERROR, req.error_message or "")
        elif run.already_answered(req):
            summary.skipped_existing += 1
            run.finished(req.request_id)
        else:
            sendable.append(req)

    try:
        # The keeper renews the batch's claims while it runs, and drops any left at the end.
        with run.keeper:
            _send_all(run, sendable, config.run.batch_size)
    finally:
        run.close()

    if run.config_error is not None:
        raise errors.ConfigurationError(run.config_error)
    summary.request_ids = sorted(run.done)
    summary.pending_ids = sorted(set(run.pending) - run.done)
    summary.pending_reasons = {rid: run.pending[rid] for rid in summary.pending_ids}
    counts = run.hooks.counts
    summary.answered_calls, summary.answered_pages = counts.answered_calls, counts.answered_pages
    summary.possibly_billed_calls = counts.possibly_billed_calls
    summary.possibly_billed_pages = counts.possibly_billed_pages
    summary.resent_calls = counts.resent_calls
    summary.billable_calls = counts.answered_calls + counts.possibly_billed_calls
    summary.billable_pages = counts.answered_pages + counts.possibly_billed_pages
    logger.info(
        "ocr batch run_id=%s requests=%d sent=%d succeeded=%d failed=%d rejected=%d "
        "skipped_existing=%d skipped_claimed=%d pending=%d billable_calls=%d "
        "possibly_billed_calls=%d resent_calls=%d stopped=%s",
        run_id,
        summary.requests,
        summary.sent,
        summary.succeeded,
        summary.failed,
        summary.rejected,
        summary.skipped_existing,
        summary.skipped_claimed,
        len(summary.pending_ids),
        summary.billable_calls,
        summary.possibly_billed_calls,
        summary.resent_calls,
        summary.stopped,
    )
    return summary.to_dict()


def _send_all(run: _BatchRun, sendable: list[PlannedRequest], size: int) -> None:
    """Send ``sendable`` until done or stopped (quota, budget, config), one stream per API.

    The requests are prepared ``size`` at a time (one budget reservation, one claim round, the
    reads) on the batch's writer thread while the client draws from the stream, so the next
    chunk is ready while the previous one is still in flight: the client's slots never wait
    for a whole chunk to finish. Answers are stored on the same thread (never on the client's
    event loop), and a request's claim is released only once its answer is durable.
    """
    from clova_etl.pipeline.calls import ocr_request

    config = run.config
    by_id: dict[str, tuple[PlannedRequest, Claim]] = {}
    handled: set[str] = set()

    def store(result: Any) -> None:
        handled.add(result.request_id)
        _on_result(run, by_id, result)
        run.hooks.finish(result.request_id)
        if run.on_answer is not None:
            counts = run.hooks.counts
            try:
                run.on_answer(counts.answered_calls + counts.possibly_billed_calls)
            except Exception:  # a progress display must not stop the calls
                logger.exception("ocr progress callback failed")

    async def on_result(result: Any) -> None:
        loop = asyncio.get_running_loop()
        # Shielded: if the run is interrupted (Ctrl-C), an answer received is still stored.
        await asyncio.shield(loop.run_in_executor(run.writer, store, result))

    async def stream(requests: list[PlannedRequest]) -> AsyncIterator[Any]:
        # Double-buffered: while the client draws the requests of one chunk, the next one is
        # being prepared, so a free slot never waits for claims and reads.
        loop = asyncio.get_running_loop()
        chunks = [requests[i : i + size] for i in range(0, len(requests), size)]

        def prepare(i: int) -> asyncio.Future[list[tuple[PlannedRequest, bytes]]] | None:
            if i >= len(chunks):
                return None
            return loop.run_in_executor(run.writer, _prepare_chunk, run, chunks[i], by_id)

        ahead = prepare(0)
        try:
            for i in range(len(chunks)):
                assert ahead is not None
                ready = await ahead
                ahead = prepare(i + 1)
                for req, doc in ready:
                    yield ocr_request(req, doc, config.ocr.transport)
        finally:
            # Stopped early: the chunk being prepared finishes on the writer (drained below);
            # a failure of it is told here, as nothing else will await it.
            if ahead is not None and ahead.done() and not ahead.cancelled() and ahead.exception():
                logger.error("ocr: preparing a chunk failed: %r", ahead.exception())

    try:
        for api in ("general", "template"):
            group = [r for r in sendable if r.api == api]
            if group:
                run.client(api).ocr_many(stream(group), on_result=on_result, keep_results=False)
    finally:
        # Nothing more is prepared, and whatever the writer still holds (answers to store, a
        # chunk being prepared) runs to its end before the claims and reservations are freed.
        run.closing = True
        run.writer.submit(_nothing).result()
        # If storing an answer failed, the client stopped early: free what it never reached.
        for rid, (_, claim) in list(by_id.items()):
            if rid not in handled:
                run.keeper.release(claim)
                run.defer(rid, "the batch stopped before this request was answered")
        run.hooks.give_back()


def _nothing() -> None:
    """A no-op for the writer: once it has run, everything queued before it has too."""


def _prepare_chunk(
    run: _BatchRun,
    chunk: list[PlannedRequest],
    by_id: dict[str, tuple[PlannedRequest, Claim]],
) -> list[tuple[PlannedRequest, bytes]]:
    """Reserve, claim and read one chunk (on the writer thread); what is ready to send."""
    summary, ledger = run.summary, run.ledger
    if run.closing:
        for req in chunk:
            run.defer(req.request_id, "the batch stopped before this request was sent")
        summary.not_sent += len(chunk)
        return []
    # What the requests answered so far did not spend goes back now, not at the run's end.
    run.hooks.release_owed()
    if summary.stopped is None and ledger.quota_exhausted(run.run_id):
        summary.stopped = "quota"
        summary.message = "CLOVA quota exhausted (0023) earlier in this run; nothing sent"
    if summary.stopped is not None:
        for req in chunk:
            run.defer(req.request_id, f"not sent: {summary.message}")
        summary.not_sent += len(chunk)
        return []
    # The chunk's first attempts are reserved in the budget at once, atomically across every
    # process sharing the store; what is not sent after all is given back below.
    allowed, message = run.budgets.reserve(run.run_id, chunk)
    if message is not None:
        summary.stopped = "budget"
        summary.message = message
        logger.warning("ocr run_id=%s %s", run.run_id, message)
        for req in chunk[len(allowed) :]:
            run.defer(req.request_id, message)
        summary.not_sent += len(chunk) - len(allowed)

    unused: list[PlannedRequest] = []
    claimed: list[tuple[PlannedRequest, Claim, bytes]] = []
    try:
        _claim_and_read(run, allowed, claimed, unused)
    except BaseException:
        # A store or read failure halfway: nothing of this chunk is sent; free what it took.
        for _, claim, _ in claimed:
            ledger.claims.release(claim)
        run.budgets.release(run.run_id, len(allowed), sum(r.pages for r in allowed))
        raise
    run.budgets.release(run.run_id, len(unused), sum(r.pages for r in unused))
    run.keeper.hold(claim for _, claim, _ in claimed)
    run.hooks.add([(req, claim, run.is_resend(req, claim)) for req, claim, _ in claimed])
    for req, claim, _ in claimed:
        by_id[req.request_id] = (req, claim)
    return [(req, doc) for req, _, doc in claimed]


def _claim_and_read(
    run: _BatchRun,
    allowed: list[PlannedRequest],
    claimed: list[tuple[PlannedRequest, Claim, bytes]],
    unused: list[PlannedRequest],
) -> None:
    """Claim and read each allowed request into ``claimed``; the others go to ``unused``."""
    config, summary, ledger = run.config, run.summary, run.ledger
    for req in allowed:
        claim = ledger.claims.take(req.request_id, run.run_id, config.run.claim_ttl_seconds)
        if claim is None:
            # Another worker is calling it right now; its answer will be in the raw store.
            summary.skipped_claimed += 1
            holder = ledger.claims.current(req.request_id)
            run.defer(
                req.request_id,
                f"claimed by {holder.owner} (run {holder.run_id}) until {holder.expires_at}"
                if holder is not None
                else "claimed by another worker",
            )
            unused.append(req)
            continue
        try:
            answered = run.already_answered(req)
            doc = None if answered else run.document(req)
        except BaseException:
            ledger.claims.release(claim)
            raise
        if answered:
            # It was answered between our check and our claim.
            ledger.claims.release(claim)
            summary.skipped_existing += 1
            run.finished(req.request_id)
            unused.append(req)
            continue
        if doc is None or isinstance(doc, tuple):
            ledger.claims.release(claim)
            if doc is None:
                run.defer(req.request_id, "the source object could not be read; retried next run")
            else:
                run.reject(req, *doc)
            unused.append(req)
            continue
        claimed.append((req, claim, doc))


def _on_result(run: _BatchRun, by_id: dict[str, tuple[PlannedRequest, Claim]], result: Any) -> None:
    from clova_etl.pipeline.calls import outcome, result_envelope, scrub

    req, claim = by_id[result.request_id]
    rid = req.request_id
    summary, ledger = run.summary, run.ledger
    kind = outcome(result)
    if result.attempts:
        summary.sent += 1
    try:
        if kind in ("succeeded", "failed", "rejected"):
            kept = run.hooks.answers.get(rid)
            env = result_envelope(
                req,
                result,
                run.run_id,
                run.secrets,
                status=kind,
                answer_uri=ledger.store.uri_for(kept) if kept else None,
            )
            ledger.write_envelope(env, force=run.force)
            if kind == "succeeded":
                summary.succeeded += 1
            elif kind == "failed":
                summary.failed += 1
            else:
                summary.rejected += 1
            ledger.clear_transient(rid)
            run.finished(rid)
            return
        err = result.error
        message = scrub(str(err), run.secrets) or ""
        lost = run.hooks.lost_answers(rid)
        if kind == "budget":
            if summary.stopped is None:
                summary.stopped = "budget"
                summary.message = message
            if result.attempts == 0:
                summary.not_sent += 1
            if lost:
                ledger.record_transient(rid, run.run_id, err.code, message, lost=lost)
            run.defer(rid, message)
        elif kind == "quota":
            if summary.stopped != "quota":
                summary.stopped = "quota"
                summary.message = (
                    "CLOVA quota exhausted (0023): the run stopped sending; unsent requests stay "
                    "pending for the next run"
                )
                ledger.mark_quota_exhausted(run.run_id, message)
            if result.attempts == 0:
                summary.not_sent += 1
            if lost:
                ledger.record_transient(rid, run.run_id, err.code, message, lost=lost)
            run.defer(rid, summary.message or message)
        elif kind == "config":
            summary.stopped = "config"
            summary.message = run.config_error = (
                f"CLOVA refused the endpoint configuration: {message}; fix the invoke URL / "
                "secret, then re-run (nothing was recorded as failed)"
            )
            run.defer(rid, summary.message)
        else:  # transient
            summary.transient += 1
            runs = ledger.record_transient(rid, run.run_id, err.code, message, lost=lost)
            if runs >= run.config.run.max_transient_failures:
                env = result_envelope(
                    req,
                    result,
                    run.run_id,
                    run.secrets,
                    status="failed",
                    error_code=err.code or errors.TRANSIENT_LIMIT,
                    error_message=f"failed transiently in {runs} runs, giving up: {message}",
                )
                ledger.write_envelope(env, force=run.force)
                summary.failed += 1
                run.finished(rid)
            else:
                run.defer(rid, f"failed transiently ({message}); sent again by the next run")
    finally:
        run.keeper.release(claim)


__all__ = ["OCR_COUNTERS", "BatchSummary", "ocr_batch"]
