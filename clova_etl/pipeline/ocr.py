"""OCR one batch of planned requests, idempotently: claim, check the budget, send, store.

The Airflow ``ocr`` task and ``clova-etl ingest`` both call :func:`ocr_batch`; the ledger
(:mod:`clova_etl.pipeline.ledger`) holds everything shared between the processes doing this.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from clova_etl.config import PipelineConfig
from clova_etl.pipeline import errors
from clova_etl.pipeline.billing import Spent, budget_scope, fit_budget
from clova_etl.pipeline.ledger import Claim, open_ledger, utcnow
from clova_etl.pipeline.pages import extract_pages
from clova_etl.pipeline.planner import PlannedRequest
from clova_etl.pipeline.reads import carriers, request_bytes
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
    stopped: str | None = None
    message: str | None = None
    request_ids: list[str] = field(default_factory=list)
    pending_ids: list[str] = field(default_factory=list)
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
        self.scope = budget_scope(config.budget)
        self.secrets = secrets_of(config.ocr)
        self.summary = BatchSummary(run_id=run_id)
        self.done: set[str] = set()
        self.pending: set[str] = set()
        self.config_error: str | None = None
        self._bytes: dict[str, bytes | None] = {}
        self.carriers: dict[str, list[str]] = {}
        self._clients: dict[str, Any] | None = None

    def client(self, api: str) -> Any:
        """The OCR client of an API, built on first use (dry steps never need the endpoint)."""
        from clova_etl.pipeline.calls import build_clients

        if self._clients is None:
            self._clients = build_clients(self.config.ocr)
        return self._clients[api]

    def close(self) -> None:
        """Close the clients' connection pools."""
        for client in {id(c): c for c in (self._clients or {}).values()}.values():
            client.close()
        self._clients = None

    # Each request ends in exactly one of these three helpers.
    def finished(self, rid: str) -> None:
        self.done.add(rid)
        self.pending.discard(rid)

    def defer(self, rid: str) -> None:
        if rid not in self.done:
            self.pending.add(rid)

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

    def document(self, req: PlannedRequest) -> bytes | tuple[str, str] | None:
        """The bytes to send, a rejection ``(code, message)``, or None (read failed: defer)."""
        keys = [req.key, *self.carriers.get(req.request_id, ())]
        data = request_bytes(self.source, req.sha256, keys, self._bytes)
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
) -> dict[str, Any]:
    """OCR one batch of planned requests, idempotently; return a :class:`BatchSummary` dict.

    The batch is worked through ``run.batch_size`` requests at a time (one budget check, one
    claim round and one concurrent send each). For each request: skip it if its answer is in
    the raw store (unless ``force``); write the envelope of a rejected one; check the budget
    before sending; claim it (skip it if another worker holds a live claim); send it; store the
    answer atomically with its metadata, record its cost, release the claim. Quota exhaustion
    (0023) and the budget stop the batch cleanly (``stopped`` = ``"quota"``/``"budget"``, the
    rest stays pending for a later run); a wrong URL/secret/domain raises
    :class:`~clova_etl.pipeline.errors.ConfigurationError` after the answers already received
    are stored.
    """
    run = _BatchRun(config, run_id, force)
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

    size = config.run.batch_size
    try:
        for start in range(0, len(sendable), size):
            chunk = sendable[start : start + size]
            if summary.stopped is None and run.ledger.quota_exhausted(run_id):
                summary.stopped = "quota"
                summary.message = "CLOVA quota exhausted (0023) earlier in this run; nothing sent"
            if summary.stopped is not None:
                for req in chunk:
                    run.defer(req.request_id)
                summary.not_sent += len(chunk)
                continue
            _send_chunk(run, chunk)
    finally:
        run.close()

    if run.config_error is not None:
        raise errors.ConfigurationError(run.config_error)
    summary.request_ids = sorted(run.done)
    summary.pending_ids = sorted(run.pending - run.done)
    logger.info(
        "ocr batch run_id=%s requests=%d sent=%d succeeded=%d failed=%d rejected=%d "
        "skipped_existing=%d skipped_claimed=%d pending=%d billable_calls=%d stopped=%s",
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
        summary.stopped,
    )
    return summary.to_dict()


def _send_chunk(run: _BatchRun, chunk: list[PlannedRequest]) -> None:
    from clova_etl.pipeline.calls import ocr_request

    config, summary, ledger = run.config, run.summary, run.ledger
    budget = config.budget
    # Counting means listing the billing records: only where a limit needs the count (the run's
    # records grow with it, and this runs before every batch).
    run_spent = Spent(*ledger.billed(run.scope, run.run_id)) if budget.limits_run else Spent()
    scope_spent = Spent(*ledger.billed(run.scope)) if budget.limits_scope else Spent()
    allowed, message = fit_budget(chunk, budget, run_spent, scope_spent)
    if message is not None:
        summary.stopped = "budget"
        summary.message = message
        logger.warning("ocr run_id=%s %s", run.run_id, message)
        for req in chunk[len(allowed) :]:
            run.defer(req.request_id)
        summary.not_sent += len(chunk) - len(allowed)

    claimed: list[tuple[PlannedRequest, Claim, bytes]] = []
    for req in allowed:
        claim = ledger.claims.take(req.request_id, run.run_id, config.run.claim_ttl_seconds)
        if claim is None:
            # Another worker is calling it right now; its answer will be in the raw store.
            summary.skipped_claimed += 1
            run.defer(req.request_id)
            continue
        if run.already_answered(req):
            # It was answered between our check and our claim.
            ledger.claims.release(claim)
            summary.skipped_existing += 1
            run.finished(req.request_id)
            continue
        doc = run.document(req)
        if doc is None or isinstance(doc, tuple):
            ledger.claims.release(claim)
            if doc is None:
                run.defer(req.request_id)
            else:
                run.reject(req, *doc)
            continue
        claimed.append((req, claim, doc))
    if not claimed:
        return

    by_id = {req.request_id: (req, claim) for req, claim, _ in claimed}
    handled: set[str] = set()

    def on_result(result: Any) -> None:
        handled.add(result.request_id)
        _on_result(run, by_id, result)

    try:
        for api in ("general", "template"):
            group = [(r, d) for r, _, d in claimed if r.api == api]
            if not group:
                continue
            if summary.stopped in ("quota", "config"):
                for req, _ in group:
                    handled.add(req.request_id)
                    ledger.claims.release(by_id[req.request_id][1])
                    run.defer(req.request_id)
                    summary.not_sent += 1
                continue
            requests = [ocr_request(r, d, config.ocr.transport) for r, d in group]
            run.client(api).ocr_many(requests, on_result=on_result)
    finally:
        # If storing an answer failed, the client stopped early: free what it never reached.
        for rid, (_, claim) in by_id.items():
            if rid not in handled:
                ledger.claims.release(claim)
                run.defer(rid)


def _on_result(run: _BatchRun, by_id: dict[str, tuple[PlannedRequest, Claim]], result: Any) -> None:
    from clova_etl.pipeline.calls import outcome, result_envelope, scrub

    req, claim = by_id[result.request_id]
    summary, ledger = run.summary, run.ledger
    kind = outcome(result)
    if result.attempts:
        summary.sent += 1
    try:
        if kind in ("succeeded", "failed", "rejected"):
            env = result_envelope(req, result, run.run_id, run.secrets, status=kind)
            ledger.write_envelope(env, force=run.force)
            if kind == "succeeded":
                summary.succeeded += 1
            elif kind == "failed":
                summary.failed += 1
            else:
                summary.rejected += 1
            if env.call.billable:
                summary.billable_calls += 1
                summary.billable_pages += env.call.billable_pages
                ledger.record_billable(
                    run.scope,
                    run.run_id,
                    req.request_id,
                    env.call.billable_pages,
                    {
                        "request_id": req.request_id,
                        "run_id": run.run_id,
                        "scope": run.scope,
                        "source_uri": req.uri,
                        "pages": env.call.billable_pages,
                        "pages_sent": env.call.pages_sent,
                        "completed_at": env.call.completed_at,
                    },
                )
            ledger.clear_transient(req.request_id)
            run.finished(req.request_id)
            return
        err = result.error
        message = scrub(str(err), run.secrets) or ""
        if kind == "quota":
            if summary.stopped != "quota":
                summary.stopped = "quota"
                summary.message = (
                    "CLOVA quota exhausted (0023): the run stopped sending; unsent requests stay "
                    "pending for the next run"
                )
                ledger.mark_quota_exhausted(run.run_id, message)
            if result.attempts == 0:
                summary.not_sent += 1
            run.defer(req.request_id)
        elif kind == "config":
            summary.stopped = "config"
            summary.message = run.config_error = (
                f"CLOVA refused the endpoint configuration: {message}; fix the invoke URL / "
                "secret, then re-run (nothing was recorded as failed)"
            )
            run.defer(req.request_id)
        else:  # transient
            summary.transient += 1
            runs = ledger.record_transient(req.request_id, run.run_id, err.code, message)
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
                run.finished(req.request_id)
            else:
                run.defer(req.request_id)
    finally:
        ledger.claims.release(claim)


__all__ = ["OCR_COUNTERS", "BatchSummary", "ocr_batch"]
