"""Plan: discover objects, read and route each one, split it into requests, batch them.

``discover`` → ``plan`` → ``store_batches`` (a fan-out's references) → ``read_batch``. Writes
nothing but the plan cache (``plans/``) and the stored batches (``runs/<run>/batches/``).
Every payload is JSON-ready (it travels as XCom); configuration never is.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any

import orjson

from clova_etl.config import PipelineConfig
from clova_etl.cores import available_cores
from clova_etl.pipeline import errors
from clova_etl.pipeline.billing import estimate
from clova_etl.pipeline.discovery import discover_objects
from clova_etl.pipeline.ledger import Ledger, object_id, open_ledger, utcnow
from clova_etl.pipeline.ledger.budgets import Budgets
from clova_etl.pipeline.planner import PlannedObject, PlannedRequest, plan_key, plan_object
from clova_etl.pipeline.reads import ReadAttempts
from clova_etl.pipeline.routing import Router
from clova_etl.pipeline.storage import ObjectInfo, Storage, io_map, open_source

logger = logging.getLogger("clova_etl.pipeline")


def _to_utc(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


# -- discover -----------------------------------------------------------------------------------


def discover(
    config: PipelineConfig,
    interval_start: str | datetime | None,
    interval_end: str | datetime | None,
    run_id: str,
    *,
    replan: bool = False,
) -> list[dict[str, Any]]:
    """The objects of ``[interval_start, interval_end)`` plus older unfinished ones.

    ``interval_end`` None means now; ``interval_start`` None takes only unfinished objects;
    ``replan`` takes the finished ones too (planned again under the current routes and limits:
    what they already had costs nothing, what changed is sent).
    Each dict is an object (``key``, ``uri``, ``size``, ``last_modified``, ``etag``…) with the
    ``reason`` it was selected (``interval`` or ``unfinished``).
    """
    start = _to_utc(interval_start)
    end = _to_utc(interval_end) or utcnow()
    found = discover_objects(
        open_source(config), open_ledger(config), config.source, start, end, replan=replan
    )
    logger.info(
        "discover run_id=%s interval=[%s, %s) objects=%d (interval=%d unfinished=%d replan=%d)",
        run_id,
        start.isoformat() if start else "-",
        end.isoformat(),
        len(found),
        sum(d.reason == "interval" for d in found),
        sum(d.reason == "unfinished" for d in found),
        sum(d.reason == "replan" for d in found),
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


class _Planner:
    """Plans one discovered object (a callable, so that a worker process can hold one)."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.source = open_source(config)
        self.ledger = open_ledger(config)
        self.router = Router(config.routes)

    def __call__(self, item: dict[str, Any]) -> PlannedObject | None:
        info = ObjectInfo.from_dict(item)
        return _plan_cached(
            self.source, self.ledger, info, self.router, self.config, item.get("skip")
        )


_WORKER_PLANNER: _Planner | None = None
# Below this many objects a pool of processes costs more than it saves.
_PROCESSES_FROM = 64


def _start_worker(config: PipelineConfig) -> None:
    global _WORKER_PLANNER
    _WORKER_PLANNER = _Planner(config)


def _plan_in_worker(item: dict[str, Any]) -> PlannedObject | None:
    assert _WORKER_PLANNER is not None
    return _WORKER_PLANNER(item)


def _plan_all(
    config: PipelineConfig, discovered: Sequence[dict[str, Any]]
) -> list[PlannedObject | None]:
    """Each object's plan (None: deferred), in order, using every core.

    On local folders planning is Python work (reading headers, hashing, the plan cache) that
    threads would serialise on the GIL: it runs in forked processes (when :func:`_may_fork`),
    else in this one. On an object store it waits on round trips: threads.
    """
    planner = _Planner(config)
    if not (planner.source.is_local and planner.ledger.store.is_local):
        return io_map(planner, discovered, name="plan")
    if not _may_fork(len(discovered)):
        return [planner(item) for item in discovered]
    try:
        with ProcessPoolExecutor(
            _PLAN_PROCESSES,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_start_worker,
            initargs=(config,),
        ) as pool:
            return list(pool.map(_plan_in_worker, discovered, chunksize=32))
    except (OSError, AssertionError, BrokenProcessPool) as exc:
        # E.g. a daemonic process may not have children (some executors run tasks in one).
        logger.warning("plan: no worker processes (%r); planning in this process", exc)
        return [planner(item) for item in discovered]


def _may_fork(objects: int) -> bool:
    """Whether forking planners is worth it and safe here.

    Not in a process with other threads (an Airflow task's heartbeat, a tracing exporter): a
    child forked while one of them holds a lock would wait for it forever. Not in a daemonic
    process (it may have no children), nor for a few objects.
    """
    if objects < _PROCESSES_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return False
    if multiprocessing.current_process().daemon or threading.active_count() > 1:
        return False
    return _PLAN_PROCESSES > 1


# Forked planners: one per core, at most 4 (the affinity mask ignores a container's CPU quota,
# and each planner holds a file's bytes at a time).
_PLAN_PROCESSES = min(4, available_cores())


def _plan_cached(
    source: Storage,
    ledger: Ledger,
    info: ObjectInfo,
    router: Router,
    config: PipelineConfig,
    skip: str | None = None,
) -> PlannedObject | None:
    """The object's plan, from the plan cache when this version was planned with these settings.

    A re-run or backfill over objects seen before then reads a small JSON per object instead of
    every object's bytes. A skipped object (hidden, ignored) is never read nor cached.
    """
    if skip is not None:
        why = {
            errors.HIDDEN: "hidden key (a segment starts with '.'); set source.hidden = "
            '"take" to process hidden files',
            errors.IGNORED: "key matches source.ignore",
        }
        return plan_object(
            info, None, router, config.limits, read_error=(skip, why.get(skip, skip))
        )
    key = f"plans/{object_id(info.uri)}.{info.version}.{plan_key(config.routes, config.limits)}"
    cached = ledger.store.read_if_exists(key)
    if cached is not None:
        try:
            return PlannedObject.from_dict(orjson.loads(cached))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            logger.warning("ignoring a damaged plan cache entry %s", key)
    planned = _plan_one(source, ledger, info, router, config)
    if planned is not None and planned.error_code != errors.READ_ERROR:
        # A cache: lost in a power cut, the object is planned again (no fsync).
        ledger.store.write(key, orjson.dumps(planned.to_dict()), durable=False)
    return planned


class _Refused(Exception):
    """An object planned without reading it: its rejection's code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.rejection = (code, message)


def _plan_one(
    source: Storage, ledger: Ledger, info: ObjectInfo, router: Router, config: PipelineConfig
) -> PlannedObject | None:
    try:
        data = _read_to_plan(source, ledger, info, config)
    except _Refused as refused:
        return plan_object(info, None, router, config.limits, read_error=refused.rejection)
    if data is None:
        return None
    return plan_object(info, data, router, config.limits)


def _read_to_plan(
    source: Storage, ledger: Ledger, info: ObjectInfo, config: PipelineConfig
) -> bytes | None:
    """The object's bytes; None to defer it to the next run; `_Refused` if it is not read."""
    limits = config.limits
    if info.kind not in ("file", "link"):
        # Never opened: a FIFO would block the read forever, a device never ends.
        raise _Refused(errors.NOT_A_REGULAR_FILE, f"a {info.kind}, not a regular file")
    if info.is_link:
        raise _Refused(errors.UNSAFE_PATH, "symlink refused")
    if info.size > limits.max_object_bytes:
        raise _Refused(
            errors.TOO_LARGE,
            f"{info.size} bytes; limits.max_object_bytes is {limits.max_object_bytes}",
        )
    if not source.is_local and _odd_key(info.key):
        # Keys with "//", "." or ".." segments are kept verbatim; an endpoint or proxy that
        # normalises paths would answer for another object. Read only if the object the
        # endpoint resolves the key to is the one listed.
        try:
            head = source.info(info.key)
        except errors.StorageError:
            head = None
        if head is None or head.etag != info.etag:
            raise _Refused(
                errors.UNSAFE_PATH,
                f"key {info.key!r} cannot be read back safely: the endpoint resolves it to "
                "another object (it normalises '.', '..' or '//' in paths)",
            )
    try:
        return source.read(info.key)
    except FileNotFoundError:
        raise _Refused(
            errors.READ_ERROR, "object disappeared between listing and reading"
        ) from None
    except errors.UnsafeKeyError as exc:
        raise _Refused(errors.UNSAFE_PATH, str(exc)) from None
    except errors.NotRegularFileError as exc:
        raise _Refused(errors.NOT_A_REGULAR_FILE, str(exc)) from None
    except errors.StorageError as exc:
        # Possibly transient: the object stays unfinished for the next run, a bounded number
        # of times (run.max_read_attempts); then it is rejected with the error.
        attempts = ReadAttempts(ledger.store, config.run.max_read_attempts)
        rejection = attempts.failed(info.uri, info.version, str(exc))
        if rejection is None:
            logger.warning("plan deferred %s: %s", info.uri, exc)
            return None
        raise _Refused(*rejection) from None


def _twins_together(planned: Sequence[PlannedObject]) -> list[PlannedObject]:
    """The objects in order, each byte-identical one moved next to the first of its content."""
    groups: dict[str, list[PlannedObject]] = {}
    for obj in planned:
        groups.setdefault(obj.sha256 or f"unread:{obj.info.uri}", []).append(obj)
    return [obj for group in groups.values() for obj in group]


def _odd_key(key: str) -> bool:
    """Whether a key has segments a path normaliser would rewrite (``//``, ``.``, ``..``)."""
    return any(part in ("", ".", "..") for part in key.split("/"))


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
        # Byte-identical objects stay together too: one can stand in for another that changed.
        same_object = current and (
            current[-1]["uri"] == item["uri"]
            or (item.get("sha256") and current[-1].get("sha256") == item["sha256"])
        )
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
    ledger = open_ledger(config)
    planned: list[PlannedObject] = []
    deferred: list[str] = []
    for item, result in zip(discovered, _plan_all(config, discovered), strict=True):
        if result is None:
            deferred.append(ObjectInfo.from_dict(item).uri)
        else:
            planned.append(result)
    items: list[dict[str, Any]] = []
    requests: list[PlannedRequest] = []
    for obj in _twins_together(planned):
        meta = obj.meta()
        for req in obj.requests:
            requests.append(req)
            items.append({**req.to_dict(), "object": meta})
    sendable = [r.request_id for r in requests if not r.rejected]
    answered = io_map(ledger.has_raw, sendable, name="plan")
    done = {rid for rid, has in zip(sendable, answered, strict=True) if has}
    run_spent, scope_spent = Budgets(ledger.store, config.budget).spent(run_id)
    est = estimate(
        requests,
        done,
        objects=len(planned),
        rejected_codes=[o.error_code for o in planned if o.error_code],
        budget=config.budget,
        run_spent=run_spent,
        scope_spent=scope_spent,
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


__all__ = ["batches", "discover", "plan", "read_batch", "select_objects", "store_batches"]
