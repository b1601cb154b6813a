"""The pipeline's steps: plain functions with JSON-ready inputs and outputs.

The Airflow tasks and the CLI call exactly these (nothing is implemented twice)::

    discover(config, interval_start, interval_end, run_id)  -> list[object dict]
    plan(config, discovered, run_id)                        -> {"batches": [[request dict]], ...}
    store_batches(config, run_id, batches)                  -> [batch reference] (for a fan-out)
    read_batch(config, reference)                           -> [request dict]
    ocr_batch(config, batch, run_id, force=False)           -> batch summary
    flatten_run(config, run_id, ocr_results, request_ids)   -> {"parquet_uri", "objects", ...}
    load_run(config, flattened, run_id)                     -> load summary
    replay(config, run_id, since, until, request_ids)       -> replay summary (zero API calls)
    select_objects(config, keys_or_uris)                    -> list[object dict] (for force)

Every payload is made of str/int/float/bool/None/list/dict only, so it can travel as XCom.
Configuration is never part of a payload: each task rebuilds it (secrets stay out of XCom).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from clova_etl.config import PipelineConfig
from clova_etl.pipeline import errors
from clova_etl.pipeline.billing import Spent, budget_scope, estimate, fit_budget
from clova_etl.pipeline.discovery import discover_objects
from clova_etl.pipeline.ledger import Claim, Ledger, utcnow
from clova_etl.pipeline.objects import RequestEnd, object_row, object_status, write_etl_objects
from clova_etl.pipeline.pages import extract_pages
from clova_etl.pipeline.planner import PlannedObject, PlannedRequest, plan_object
from clova_etl.pipeline.routing import Router
from clova_etl.pipeline.storage import ObjectInfo, Storage

logger = logging.getLogger("clova_etl.pipeline")


def _to_utc(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def open_source(config: PipelineConfig) -> Storage:
    """The bucket documents are read from."""
    return Storage.open(config.source)


def open_ledger(config: PipelineConfig) -> Ledger:
    """The ledger over the configured store."""
    return Ledger(Storage.open(config.store))


# -- discover -----------------------------------------------------------------------------------


def discover(
    config: PipelineConfig,
    interval_start: str | datetime | None,
    interval_end: str | datetime | None,
    run_id: str,
) -> list[dict[str, Any]]:
    """The objects of ``[interval_start, interval_end)`` plus older unfinished ones.

    ``interval_end`` None means now; ``interval_start`` None takes only unfinished objects.
    Each dict is an object (``key``, ``uri``, ``size``, ``last_modified``, ``etag``…) with the
    ``reason`` it was selected (``interval`` or ``unfinished``).
    """
    start = _to_utc(interval_start)
    end = _to_utc(interval_end) or utcnow()
    found = discover_objects(open_source(config), open_ledger(config), config.source, start, end)
    logger.info(
        "discover run_id=%s interval=[%s, %s) objects=%d (interval=%d unfinished=%d)",
        run_id,
        start.isoformat() if start else "-",
        end.isoformat(),
        len(found),
        sum(d.reason == "interval" for d in found),
        sum(d.reason == "unfinished" for d in found),
    )
    return [d.to_dict() for d in found]


def select_objects(config: PipelineConfig, keys_or_uris: Sequence[str]) -> list[dict[str, Any]]:
    """Named objects (keys relative to the source, or full URIs), e.g. to force their re-OCR."""
    source = open_source(config)
    out = []
    for item in keys_or_uris:
        info = source.info(source.key_for(item))
        if info is None:
            raise errors.PipelineError(f"no such object: {item} (under {source.uri})")
        out.append({**info.to_dict(), "reason": "forced"})
    return out


# -- plan ---------------------------------------------------------------------------------------


def _plan_cached(
    source: Storage, ledger: Ledger, info: ObjectInfo, router: Router, config: PipelineConfig
) -> PlannedObject | None:
    """The object's plan, from the plan cache when this version was planned with these settings.

    A re-run or backfill over objects seen before then reads a small JSON per object instead of
    every object's bytes.
    """
    from clova_etl.pipeline.ledger import object_id
    from clova_etl.pipeline.planner import plan_key

    key = f"plans/{object_id(info.uri)}.{info.version}.{plan_key(config.routes, config.limits)}"
    cached = ledger.store.read_if_exists(key)
    if cached is not None:
        try:
            return PlannedObject.from_dict(orjson.loads(cached))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            logger.warning("ignoring a damaged plan cache entry %s", key)
    planned = _plan_one(source, info, router, config)
    if planned is not None and planned.error_code != errors.READ_ERROR:
        ledger.store.write(key, orjson.dumps(planned.to_dict()))
    return planned


def _plan_one(
    source: Storage, info: ObjectInfo, router: Router, config: PipelineConfig
) -> PlannedObject | None:
    limits = config.limits
    if info.is_link:
        return plan_object(
            info, None, router, limits, read_error=(errors.UNSAFE_PATH, "symlink refused")
        )
    if info.size > limits.max_object_bytes:
        return plan_object(
            info,
            None,
            router,
            limits,
            read_error=(
                errors.TOO_LARGE,
                f"{info.size} bytes; limits.max_object_bytes is {limits.max_object_bytes}",
            ),
        )
    try:
        data = source.read(info.key)
    except FileNotFoundError:
        return plan_object(
            info,
            None,
            router,
            limits,
            read_error=(errors.READ_ERROR, "object disappeared between listing and reading"),
        )
    except errors.UnsafeKeyError as exc:
        return plan_object(info, None, router, limits, read_error=(errors.UNSAFE_PATH, str(exc)))
    except errors.StorageError as exc:
        # Possibly transient: leave the object unfinished so the next run tries again.
        logger.warning("plan deferred %s: %s", info.uri, exc)
        return None
    return plan_object(info, data, router, config.limits)


def batches(
    items: Sequence[dict[str, Any]], size: int, max_batches: int | None = None
) -> list[list[dict[str, Any]]]:
    """``items`` in lists of about ``size``, keeping each object's requests together.

    With ``max_batches``, the lists grow past ``size`` as needed so that there are at most that
    many: each one becomes a task somewhere (an Airflow mapped task), and tasks have a cost of
    their own that many small ones multiply.
    """
    if max_batches is not None:
        size = max(size, -(-len(items) // max_batches))
    out: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for item in items:
        same_object = current and current[-1]["uri"] == item["uri"]
        if len(current) >= size and not same_object:
            out.append(current)
            current = []
        current.append(item)
    if current:
        out.append(current)
    return out


def plan(
    config: PipelineConfig, discovered: Sequence[dict[str, Any]], run_id: str
) -> dict[str, Any]:
    """Read, sniff, route and split each object; price what is not in the raw store yet.

    Writes nothing but its plan cache (``plans/`` in the store). Returns ``{"run_id",
    "objects", "requests", "rejected_objects", "deferred_objects", "batches", "estimate"}``:
    ``batches`` are lists of request dicts (each a :class:`PlannedRequest` plus its object's
    ``object`` block) for :func:`ocr_batch`, rejected requests included (their envelopes are
    written there); ``estimate`` is what sending would cost (a dry run stops here).
    """
    source = open_source(config)
    ledger = open_ledger(config)
    router = Router(config.routes)
    planned: list[PlannedObject] = []
    deferred: list[str] = []
    for item in discovered:
        info = ObjectInfo.from_dict(item)
        result = _plan_cached(source, ledger, info, router, config)
        if result is None:
            deferred.append(info.uri)
        else:
            planned.append(result)
    items: list[dict[str, Any]] = []
    requests: list[PlannedRequest] = []
    for obj in planned:
        meta = obj.meta()
        for req in obj.requests:
            requests.append(req)
            items.append({**req.to_dict(), "object": meta})
    done = {r.request_id for r in requests if not r.rejected and ledger.has_raw(r.request_id)}
    scope = budget_scope(config.budget)
    est = estimate(
        requests,
        done,
        objects=len(planned),
        rejected_codes=[o.error_code for o in planned if o.error_code],
        budget=config.budget,
        run_spent=Spent(*ledger.billed(scope, run_id)),
        scope_spent=Spent(*ledger.billed(scope)) if config.budget.scope else Spent(),
    )
    logger.info(
        "plan run_id=%s objects=%d rejected=%d deferred=%d requests=%d already_done=%d "
        "to_send_calls=%d to_send_pages=%d",
        run_id,
        len(planned),
        est.rejected_objects,
        len(deferred),
        est.requests,
        est.already_done,
        est.to_send_calls,
        est.to_send_pages,
    )
    return {
        "run_id": run_id,
        "objects": len(planned),
        "requests": len(requests),
        "rejected_objects": est.rejected_objects,
        "deferred_objects": deferred,
        "batches": batches(items, config.run.batch_size, config.run.max_batches),
        "estimate": est.to_dict(),
    }


def store_batches(
    config: PipelineConfig, run_id: str, planned_batches: Sequence[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Store each planned batch; return one small reference per batch, in order.

    A fan-out passes these instead of the batches (Airflow maps its ``ocr`` task over them): each
    task then reads its own batch only. Passing the batches themselves makes every task read all
    of them, the whole plan, megabytes at thousands of documents.
    """
    ledger = open_ledger(config)
    return [
        {"batch_key": ledger.write_batch(run_id, index, batch), "requests": len(batch)}
        for index, batch in enumerate(planned_batches)
    ]


def read_batch(config: PipelineConfig, reference: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The batch a :func:`store_batches` reference points to."""
    return open_ledger(config).read_batch(str(reference["batch_key"]))


# -- OCR ----------------------------------------------------------------------------------------


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
        if req.key not in self._bytes:
            try:
                self._bytes[req.key] = self.source.read(req.key)
            except FileNotFoundError:
                self._bytes[req.key] = b""
            except errors.StorageError as exc:
                logger.warning("ocr deferred request_id=%s: %s", req.request_id, exc)
                self._bytes[req.key] = None
        data = self._bytes[req.key]
        if data is None:
            return None
        from clova_etl.identity import sha256_hex

        if sha256_hex(data) != req.sha256:
            return (
                errors.SOURCE_CHANGED,
                "the object changed (or disappeared) after planning; its new version is "
                "processed as a new object",
            )
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
        claim = ledger.claim(req.request_id, run.run_id, config.run.claim_ttl_seconds)
        if claim is None:
            # Another worker is calling it right now; its answer will be in the raw store.
            summary.skipped_claimed += 1
            run.defer(req.request_id)
            continue
        if run.already_answered(req):
            # It was answered between our check and our claim.
            ledger.release(claim)
            summary.skipped_existing += 1
            run.finished(req.request_id)
            continue
        doc = run.document(req)
        if doc is None or isinstance(doc, tuple):
            ledger.release(claim)
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
                    ledger.release(by_id[req.request_id][1])
                    run.defer(req.request_id)
                    summary.not_sent += 1
                continue
            requests = [ocr_request(r, d, config.ocr.transport) for r, d in group]
            run.client(api).ocr_many(requests, on_result=on_result)
    finally:
        # If storing an answer failed, the client stopped early: free what it never reached.
        for rid, (_, claim) in by_id.items():
            if rid not in handled:
                ledger.release(claim)
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
        ledger.release(claim)


# -- flatten and load ---------------------------------------------------------------------------


def _parquet_key(run_id: str) -> str:
    from clova_etl.pipeline.ledger import _seg

    return f"parquet/{_seg(run_id)}"


def _envelope_end(data: bytes) -> RequestEnd:
    try:
        call = orjson.loads(data).get("call") or {}
        return RequestEnd(
            call.get("status", "failed"), call.get("error_code"), call.get("error_message")
        )
    except (orjson.JSONDecodeError, AttributeError):
        return RequestEnd("failed", "MALFORMED_ENVELOPE", "stored envelope is not JSON")


@contextmanager
def _local_dir(store: Storage, key: str, *, upload: bool) -> Iterator[Path]:
    """A local folder for ``key``: the store's own folder, or a temp copy of a remote one."""
    if store.is_local:
        path = store.local_path(key)
        if upload and path.exists():
            shutil.rmtree(path)  # a retried task must not leave parts of its earlier attempt
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    tmp = Path(tempfile.mkdtemp(prefix="clova-etl-"))
    try:
        if not upload:
            for obj in store.list_objects(key):
                target = tmp / obj.key[len(key) :].lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(store.read(obj.key))
        yield tmp
        if upload:
            for old in store.list_keys(key):
                store.delete(old)
            for path in sorted(tmp.rglob("*")):
                if path.is_file():
                    store.write(f"{key}/{path.relative_to(tmp).as_posix()}", path.read_bytes())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def flatten_run(
    config: PipelineConfig,
    run_id: str,
    ocr_results: Sequence[dict[str, Any]] | None = None,
    *,
    request_ids: Sequence[str] | None = None,
    stored_objects: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Flatten the run's envelopes into Parquet (silver) in the store, with etl_objects rows.

    The requests are those of every object named in ``ocr_results`` (the :func:`ocr_batch`
    summaries) plus ``request_ids``; ``stored_objects`` are object states already in the
    ledger (a replay), written to etl_objects as they are. Returns ``{"run_id", "parquet_uri",
    "request_ids", "documents", "tables": {table: rows}, "objects": [object state], "object_status":
    {status: count}}``; the object states are written to the ledger by :func:`load_run`.
    """
    from clova_etl.flatten import flatten_to_parquet

    ledger = open_ledger(config)
    metas: dict[str, dict[str, Any]] = {}
    wanted: list[str] = list(request_ids or [])
    for res in ocr_results or []:
        for meta in res.get("objects", []):
            metas.setdefault(meta["uri"], meta)
    for meta in metas.values():
        wanted.extend(meta.get("request_ids", []))

    ends: dict[str, RequestEnd | None] = {}
    items: list[tuple[str, bytes]] = []
    for rid in dict.fromkeys(wanted):
        key = ledger.envelope_key(rid)
        data = ledger.store.read_if_exists(key) if key else None
        if key is None or data is None:
            ends[rid] = None
            continue
        ends[rid] = _envelope_end(data)
        items.append((ledger.store.uri_for(key), data))

    now = utcnow()
    rows = []
    for uri, meta in sorted(metas.items()):
        status = object_status(meta, ends)
        rows.append(object_row(meta, status, ledger.object_state(uri), run_id, now))
    rows.extend(dict(state) for state in stored_objects if state["source_uri"] not in metas)

    key = _parquet_key(run_id)
    with _local_dir(ledger.store, key, upload=True) as out_dir:
        summary = flatten_to_parquet(items, out_dir)
        n_objects = write_etl_objects(rows, out_dir) if rows else 0
    tables = dict(getattr(summary, "rows", {}) or {})
    tables["etl_objects"] = n_objects
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    logger.info(
        "flatten run_id=%s documents=%d objects=%s parquet=%s",
        run_id,
        len(items),
        counts,
        ledger.store.uri_for(key),
    )
    return {
        "run_id": run_id,
        "parquet_uri": ledger.store.uri_for(key),
        "request_ids": [rid for rid, end in ends.items() if end is not None],
        "missing_request_ids": [rid for rid, end in ends.items() if end is None],
        "documents": len(items),
        "tables": tables,
        "objects": rows,
        "object_status": counts,
    }


def load_run(config: PipelineConfig, flattened: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Load a flattened run into the warehouse (checks included), then record object states.

    Object states (and terminal markers, which end re-discovery) are written only after the
    load committed, so a failed load leaves the objects unfinished for the next run.
    """
    from clova_etl.warehouse import connect

    ledger = open_ledger(config)
    key = _parquet_key(run_id)
    with _local_dir(ledger.store, key, upload=False) as local, connect(config.warehouse.uri) as wh:
        result = wh.load(local, run_id=run_id)
    for row in flattened.get("objects", []):
        ledger.write_object_state(row)
    summary = {
        "run_id": run_id,
        "load_id": result.load_id,
        "request_count": result.request_count,
        "rows": dict(result.rows),
        "checks": {c.name: c.status for c in result.checks},
        "warnings": [c.summary() for c in result.warnings],
        "duration_s": round(result.duration_s, 3),
        "object_status": dict(flattened.get("object_status", {})),
    }
    logger.info(
        "load run_id=%s load_id=%s requests=%d rows=%d warnings=%d",
        run_id,
        result.load_id,
        result.request_count,
        result.total_rows,
        len(result.warnings),
    )
    return summary


# -- replay -------------------------------------------------------------------------------------


def replay(
    config: PipelineConfig,
    run_id: str,
    *,
    since: str | date | None = None,
    until: str | date | None = None,
    request_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Re-flatten and reload stored envelopes (by day written and/or ids); no API call."""
    ledger = open_ledger(config)
    ids = list(request_ids or [])
    if since is not None or until is not None:
        lo = date.fromisoformat(since) if isinstance(since, str) else (since or date.min)
        hi = date.fromisoformat(until) if isinstance(until, str) else (until or date.max)
        ids.extend(ledger.request_ids_between(lo, hi))
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {"run_id": run_id, "request_ids": 0, "flatten": None, "load": None}
    # The objects' states come along, so a replay into a new warehouse has its etl_objects too.
    wanted = set(ids)
    states = [
        state
        for state in ledger.object_states()
        if wanted.intersection((state.get("request_ids") or "").split(","))
    ]
    flat = flatten_run(config, run_id, request_ids=ids, stored_objects=states)
    loaded = load_run(config, flat, run_id)
    missing = flat["missing_request_ids"]
    if missing:
        logger.warning("replay run_id=%s: %d request id(s) have no envelope", run_id, len(missing))
    return {"run_id": run_id, "request_ids": len(ids), "flatten": flat, "load": loaded}


__all__ = [
    "OCR_COUNTERS",
    "BatchSummary",
    "batches",
    "discover",
    "flatten_run",
    "load_run",
    "ocr_batch",
    "open_ledger",
    "open_source",
    "plan",
    "read_batch",
    "replay",
    "select_objects",
    "store_batches",
]
