"""What the clova_ocr tasks do at run time: Airflow context in, library call, JSON summary out.

Each function reads the running task's context (params, data interval, run id), builds the same
:class:`~clova_etl.config.PipelineConfig` the CLI builds, and calls one
:mod:`clova_etl.pipeline` step. Nothing here decides which object is OCR'd or how: that is the
library's job. Return values go to XCom, so they are JSON and never hold a secret.

How configuration reaches a task, later sources winning:

1. the defaults of :class:`~clova_etl.config.PipelineConfig`;
2. a TOML file: the Airflow Variable ``clova_etl_config`` when it holds a path, else
   ``$CLOVA_ETL_CONFIG``;
3. ``CLOVA_ETL_<SECTION>_<FIELD>`` environment variables;
4. the Variable ``clova_etl_config`` when it holds a JSON object (nested like the TOML);
5. the run's ``config_overrides`` and budget params;
6. the OCR endpoint of the ``clova_ocr_conn_id`` connection (and the Template-domain connection),
   when that connection exists.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clova_etl.config import PipelineConfig

__all__ = [
    "CONFIG_VARIABLE",
    "PLAN_XCOM",
    "discover",
    "finish",
    "flatten",
    "load",
    "load_run_config",
    "ocr",
    "plan_events",
    "plan_force",
    "replay",
    "run_interval",
]

log = logging.getLogger("clova_etl.airflow")

CONFIG_VARIABLE = "clova_etl_config"
# XCom key of the planning task's summary (counts and the cost estimate), read by ``finish``.
PLAN_XCOM = "plan"

# Run param -> (config section, field).
_BUDGET_PARAMS = {
    "max_calls": ("budget", "max_calls_per_run"),
    "max_pages": ("budget", "max_pages_per_run"),
    "budget_scope": ("budget", "scope"),
    "scope_max_calls": ("budget", "max_calls_per_scope"),
    "scope_max_pages": ("budget", "max_pages_per_scope"),
}


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        elif value is not None:
            out[key] = value
    return out


def _variable() -> tuple[str | None, dict[str, Any]]:
    """The config Variable as (file path, overrides); both empty when it is not set."""
    from airflow.sdk import Variable

    raw = Variable.get(CONFIG_VARIABLE, default=None)
    if raw is None or not str(raw).strip():
        return None, {}
    text = str(raw).strip()
    if not text.startswith("{"):
        return text, {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(
            f"Airflow Variable {CONFIG_VARIABLE!r} is neither a file path nor a JSON object: {exc}"
        ) from None
    return None, data


def load_run_config(params: Mapping[str, Any], *, with_ocr: bool = True) -> PipelineConfig:
    """The pipeline configuration for this run (see the module docstring for the order)."""
    from clova_etl.config import load_config

    path, overrides = _variable()
    overrides = _merge(overrides, params.get("config_overrides") or {})
    for name, (section, field) in _BUDGET_PARAMS.items():
        if params.get(name) is not None:
            overrides = _merge(overrides, {section: {field: params[name]}})
    config = load_config(path, overrides=overrides)
    if with_ocr:
        config = _with_connections(config, params)
    return config


def _with_connections(config: PipelineConfig, params: Mapping[str, Any]) -> PipelineConfig:
    from clova_etl.airflow.hooks import ClovaOCRHook

    conn_id = params.get("clova_ocr_conn_id") or ClovaOCRHook.default_conn_name
    if _connection_exists(conn_id):
        config = ClovaOCRHook(conn_id).apply_to(config)
    elif not config.ocr.invoke_url:
        raise ValueError(
            f"no CLOVA OCR endpoint: create the Airflow connection {conn_id!r} (host = invoke "
            "URL, password = secret key) or set ocr.invoke_url/ocr.secret in the configuration"
        )
    template_conn_id = params.get("clova_ocr_template_conn_id")
    if template_conn_id:
        if not _connection_exists(template_conn_id):
            raise ValueError(f"the Template OCR connection {template_conn_id!r} does not exist")
        config = ClovaOCRHook(template_conn_id).apply_to(config, template=True)
    return config


def _connection_exists(conn_id: str) -> bool:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def run_interval(context: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """The run's ``[start, end)``: ``from_date``/``to_date`` params, else the data interval."""
    import pendulum

    params = context.get("params") or {}
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if params.get("from_date"):
        start = pendulum.parse(params["from_date"], tz="UTC")
    if params.get("to_date"):
        end = pendulum.parse(params["to_date"], tz="UTC")
    if start is None or end is None:
        raise ValueError("this run has no data interval: give from_date and to_date")
    if end < start:
        raise ValueError(f"the interval ends ({end}) before it starts ({start})")
    return start, end


# -- the steps ----------------------------------------------------------------------------------


def _context() -> Any:
    from airflow.sdk import get_current_context

    return get_current_context()


def pipeline_run_id(context: Mapping[str, Any]) -> str:
    """The run id the library records: the DAG's id and Airflow's run id.

    A task retry, and a cleared and re-run DAG run, keep it, so the run's budget and a forced
    re-OCR's "once per run" hold across attempts.
    """
    return f"{context['dag'].dag_id}__{context['run_id']}"


@contextmanager
def _terminal_errors_fail_fast() -> Iterator[None]:
    """Errors that a retry cannot fix fail the task at once (no retries) with their message."""
    from airflow.sdk.exceptions import AirflowFailException

    from clova_etl.pipeline.errors import ConfigurationError
    from clova_etl.warehouse.errors import WarehouseError

    try:
        yield
    except ConfigurationError as exc:
        raise AirflowFailException(f"configuration: {exc}") from exc
    except WarehouseError as exc:
        if exc.transient:
            raise
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
    except ValueError as exc:
        # Configuration that does not validate (a Variable, a param, a connection extra).
        raise AirflowFailException(f"invalid configuration: {exc}") from exc


def _plan(
    context: Any, config: PipelineConfig, found: list[dict[str, Any]], **info: Any
) -> list[dict[str, Any]]:
    """Plan ``found``, push the summary for ``finish``, return batch references (none if dry).

    The batches go to the store and the mapped ``ocr`` task expands over small references to
    them: Airflow resolves a mapped argument by pulling the upstream's whole XCom in every
    mapped task, so returning the batches themselves would cost documents² / batch size.
    """
    from clova_etl import pipeline

    run_id = pipeline_run_id(context)
    planned = pipeline.plan(config, found, run_id)
    dry_run = bool(context["params"].get("dry_run"))
    summary = {k: v for k, v in planned.items() if k != "batches"}
    summary.update(info, dry_run=dry_run, batches=len(planned["batches"]))
    context["ti"].xcom_push(key=PLAN_XCOM, value=summary)
    est = planned["estimate"]
    log.info(
        "%s%d object(s), %d request(s): %d already in the raw store (free), %d to send = "
        "%d billable call(s), up to %d page(s), in %d batch(es)",
        "DRY RUN, nothing will be sent: " if dry_run else "",
        planned["objects"],
        est["requests"],
        est["already_done"],
        est["to_send_calls"],
        est["to_send_calls"],
        est["to_send_pages"],
        len(planned["batches"]),
    )
    if est.get("budget_message"):
        log.warning("budget: %s", est["budget_message"])
    if dry_run:
        return []
    return pipeline.store_batches(config, run_id, planned["batches"])


def discover() -> list[dict[str, Any]]:
    """Discover the run's interval, plan it, and return references to the OCR batches."""
    from clova_etl import pipeline

    context = _context()
    with _terminal_errors_fail_fast():
        config = load_run_config(context["params"], with_ocr=False)
        start, end = run_interval(context)
        found = pipeline.discover(config, start, end, pipeline_run_id(context))
        return _plan(
            context,
            config,
            found,
            interval_start=start.isoformat(),
            interval_end=end.isoformat(),
        )


def plan_events(context: Any = None) -> list[dict[str, Any]]:
    """Plan the objects named by the triggering asset events (and the ``object_uris`` param)."""
    from clova_etl.airflow.events import object_uris_from_events

    context = context if context is not None else _context()
    extras = [
        event.extra
        for events in (context.get("triggering_asset_events") or {}).values()
        for event in events
    ]
    uris = object_uris_from_events([*extras, {"object_uris": context["params"].get("object_uris")}])
    log.info("%d object(s) named by %d event(s)", len(uris), len(extras))
    with _terminal_errors_fail_fast():
        config = load_run_config(context["params"], with_ocr=False)
        found = _select_present(config, uris)
        return _plan(context, config, found, events=len(extras))


def _select_present(config: PipelineConfig, uris: Sequence[str]) -> list[dict[str, Any]]:
    """The named objects that exist under the source prefix; others are logged and skipped.

    An event may name an object deleted since, or one outside the watched prefix (a bucket-wide
    notification): neither fails the run.
    """
    from clova_etl import pipeline
    from clova_etl.pipeline.errors import PipelineError

    found: list[dict[str, Any]] = []
    for uri in uris:
        try:
            (obj,) = pipeline.select_objects(config, [uri])
        except PipelineError as exc:
            log.warning("skipped %s: %s", uri, exc)
            continue
        if not obj["key"].startswith(config.source.prefix):
            log.info("skipped %s: outside the source prefix %r", uri, config.source.prefix)
            continue
        found.append({**obj, "reason": "event"})
    return found


def plan_force() -> list[dict[str, Any]]:
    """Plan the objects chosen for a forced re-OCR (``object_uris`` and/or ``request_ids``)."""
    from clova_etl import pipeline

    context = _context()
    params = context["params"]
    with _terminal_errors_fail_fast():
        config = load_run_config(params, with_ocr=False)
        wanted = list(params.get("object_uris") or [])
        ledger = pipeline.open_ledger(config)
        for rid in params.get("request_ids") or []:
            env = ledger.read_envelope(rid)
            if env is None:
                raise ValueError(f"request {rid} is not in the raw store: nothing to re-OCR")
            wanted.append(env.source.uri)
        if not wanted:
            raise ValueError("name the objects to re-OCR: params object_uris and/or request_ids")
        found = pipeline.select_objects(config, list(dict.fromkeys(wanted)))
        return _plan(context, config, found, forced=len(found))


def ocr(
    context: Any,
    requests: Sequence[dict[str, Any]] | Mapping[str, Any],
    *,
    clova_ocr_conn_id: str,
    template_conn_id: str,
    force: bool,
) -> dict[str, Any]:
    """OCR one batch through the library; a quota or budget stop is reported, not raised.

    ``requests`` is the batch itself or a reference to a stored one (what the planning tasks
    return, see :func:`clova_etl.pipeline.plan.store_batches`).
    """
    from clova_etl import pipeline

    params = {
        **dict(context["params"]),
        "clova_ocr_conn_id": clova_ocr_conn_id,
        "clova_ocr_template_conn_id": template_conn_id,
    }
    with _terminal_errors_fail_fast():
        config = load_run_config(params)
        batch = pipeline.read_batch(config, requests) if isinstance(requests, Mapping) else requests
        summary: dict[str, Any] = pipeline.ocr_batch(
            config, batch, pipeline_run_id(context), force=force
        )
    if summary.get("stopped"):
        log.error("batch stopped (%s): %s", summary["stopped"], summary.get("message"))
    return summary


def flatten(ocr_results: list[dict[str, Any]]) -> dict[str, Any]:
    """Flatten what the run's batches stored into Parquet (silver)."""
    from clova_etl import pipeline

    context = _context()
    with _terminal_errors_fail_fast():
        config = load_run_config(context["params"], with_ocr=False)
        return pipeline.flatten_run(config, pipeline_run_id(context), ocr_results)


def load(flattened: dict[str, Any]) -> dict[str, Any]:
    """Load the run's Parquet into the warehouse; the checks run with the load."""
    from clova_etl import pipeline

    context = _context()
    with _terminal_errors_fail_fast():
        config = load_run_config(context["params"], with_ocr=False)
        return pipeline.load_run(config, flattened, pipeline_run_id(context))


def replay() -> dict[str, Any]:
    """Re-flatten and reload stored responses chosen by date range and/or request ids."""
    from clova_etl import pipeline

    context = _context()
    params = context["params"]
    since, until = params.get("from_date"), params.get("to_date")
    ids = list(params.get("request_ids") or [])
    if not (since or until or ids):
        raise _fail("give from_date/to_date and/or request_ids: replaying everything is a choice")
    with _terminal_errors_fail_fast():
        config = load_run_config(params, with_ocr=False)
        result: dict[str, Any] = pipeline.replay(
            config,
            pipeline_run_id(context),
            since=since[:10] if since else None,
            until=until[:10] if until else None,
            request_ids=ids,
        )
    log.info("replayed %s request(s) with zero API calls", result.get("request_ids"))
    return result


def _fail(message: str) -> Exception:
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(message)


def finish(
    plan: Mapping[str, Any], ocr_results: Sequence[Mapping[str, Any]], loaded: Mapping[str, Any]
) -> dict[str, Any]:
    """Sum the run up with its bill; fail it (no retry) when anything was left pending.

    What was answered is stored and loaded before this task runs; a failed ``finish`` makes the
    run red so that the scheduler's retry of the run, or an operator, sees what is missing.
    """
    from clova_etl.pipeline.billing import budget_scope
    from clova_etl.pipeline.ledger import open_ledger
    from clova_etl.pipeline.ocr import OCR_COUNTERS
    from clova_etl.pipeline.pending import describe_pending

    context = _context()
    totals = {k: sum(int(r.get(k) or 0) for r in ocr_results) for k in OCR_COUNTERS}
    stops = sorted({str(r["stopped"]) for r in ocr_results if r.get("stopped")})
    done = {rid for r in ocr_results for rid in r.get("request_ids") or []}
    pending = {
        rid: reason
        for r in ocr_results
        for rid, reason in (r.get("pending_reasons") or {}).items()
        if rid not in done
    }
    object_status = dict(loaded.get("object_status") or {})
    report = {
        "dry_run": bool(plan.get("dry_run")),
        "objects": plan.get("objects"),
        "estimate": plan.get("estimate"),
        "ocr": totals,
        "batches": len(ocr_results),
        "stopped": stops,
        "pending_requests": len(pending),
        "object_status": object_status,
    }
    if report["dry_run"]:
        est = plan.get("estimate") or {}
        log.info(
            "DRY RUN: %s object(s) would cost %s billable call(s), up to %s page(s) "
            "(%s request(s) already paid for)",
            plan.get("objects"),
            est.get("to_send_calls"),
            est.get("to_send_pages"),
            est.get("already_done"),
        )
        return report
    config = load_run_config(context["params"], with_ocr=False)
    bill = open_ledger(config).bill(
        scope=budget_scope(config.budget), run_id=pipeline_run_id(context)
    )["totals"]
    report["billing"] = bill
    log.info(
        "run: %d request(s), %d sent, %d skipped (already stored), %d pending; billed %d call(s) "
        "/ %d page(s): %d answered, %d possibly billed, %d re-sent; objects %s",
        totals["requests"],
        totals["sent"],
        totals["skipped_existing"],
        len(pending),
        bill["calls"],
        bill["pages"],
        bill["answered_calls"],
        bill["possibly_billed_calls"],
        bill["resent_calls"],
        object_status,
    )
    pending_objects = int(object_status.get("pending") or 0)
    if not pending and not pending_objects and not stops:
        return report
    messages = sorted({str(r["message"]) for r in ocr_results if r.get("stopped")})
    why = f" ({', '.join(stops)}: {'; '.join(messages)})" if stops else ""
    raise _fail(
        f"{len(pending)} request(s) and {pending_objects} object(s) left pending{why}. What was "
        "answered is stored and loaded; the next run (or clearing this one) sends the rest, and "
        "nothing already paid is sent again.\n" + describe_pending(pending)
    )
