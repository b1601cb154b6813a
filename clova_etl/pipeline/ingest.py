"""One whole run without Airflow: discover → plan → OCR in batches → flatten → load.

``clova-etl ingest`` calls :func:`run_ingest`; the Airflow DAG calls the same steps one task
each. A dry run stops after planning and reports what the run would cost.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from clova_etl import progress
from clova_etl.config import PipelineConfig
from clova_etl.pipeline.billing import budget_scope
from clova_etl.pipeline.ledger import open_ledger, utcnow
from clova_etl.pipeline.ocr import OCR_COUNTERS, ocr_batch
from clova_etl.pipeline.pending import describe_pending
from clova_etl.pipeline.plan import discover, plan, select_objects
from clova_etl.pipeline.publish import flatten_run, load_run


def new_run_id(prefix: str = "cli") -> str:
    """A run id for a run started by hand (Airflow supplies its own)."""
    return f"{prefix}__{utcnow().strftime('%Y-%m-%dT%H:%M:%S.%fZ')}__{uuid.uuid4().hex[:6]}"


@dataclass
class IngestReport:
    """What a run did (or, dry, would do); JSON-ready through :meth:`to_dict`."""

    run_id: str
    interval_start: str | None
    interval_end: str | None
    dry_run: bool
    discovered: int = 0
    planned_objects: int = 0
    rejected_objects: int = 0
    deferred_objects: int = 0
    estimate: dict[str, Any] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    pending_request_ids: list[str] = field(default_factory=list)
    pending: dict[str, str] = field(default_factory=dict)
    billing: dict[str, int] = field(default_factory=dict)
    stopped: str | None = None
    message: str | None = None
    object_status: dict[str, int] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)
    load: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @property
    def complete(self) -> bool:
        """Whether nothing was left pending (no stop, no unfinished object)."""
        return self.stopped is None and not self.pending and not self.object_status.get("pending")

    def render(self) -> str:
        """A short human summary."""
        est = self.estimate
        lines = [
            f"run {self.run_id}" + (" (dry run)" if self.dry_run else ""),
            f"  interval: [{self.interval_start or '-'}, {self.interval_end or 'now'})",
            f"  objects: {self.discovered} discovered, {self.planned_objects} planned, "
            f"{self.rejected_objects} rejected, {self.deferred_objects} deferred (read errors)",
            f"  requests: {est.get('requests', 0)} valid, {est.get('already_done', 0)} already in "
            f"the raw store; to send: {est.get('to_send_calls', 0)} calls / "
            f"{est.get('to_send_pages', 0)} pages",
        ]
        if est.get("by_route"):
            routes = ", ".join(
                f"{name}: {v['calls']} calls/{v['pages']} pages"
                for name, v in sorted(est["by_route"].items())
            )
            lines.append(f"  by route: {routes}")
        if est.get("rejected_by_code"):
            codes = ", ".join(f"{k}={v}" for k, v in sorted(est["rejected_by_code"].items()))
            lines.append(f"  rejected: {codes}")
        if est.get("budget_message"):
            lines.append(f"  budget: {est['budget_message']}")
        if not self.dry_run:
            t = self.totals
            lines.append(
                f"  calls: {t.get('sent', 0)} sent ({t.get('succeeded', 0)} succeeded, "
                f"{t.get('failed', 0)} failed, {t.get('transient', 0)} transient), "
                f"{t.get('skipped_existing', 0)} skipped (answered before), "
                f"{t.get('skipped_claimed', 0)} skipped (claimed by another worker)"
            )
            b = self.billing
            lines.append(
                f"  billed: {b.get('calls', 0)} calls / {b.get('pages', 0)} pages "
                f"({b.get('answered_calls', 0)} answered, {b.get('possibly_billed_calls', 0)} "
                f"possibly billed, {b.get('resent_calls', 0)} re-sent; "
                f"{b.get('not_billed_calls', 0)} attempts not billed)"
            )
            if self.object_status:
                status = ", ".join(f"{k}={v}" for k, v in sorted(self.object_status.items()))
                lines.append(f"  objects now: {status}")
            if self.tables:
                rows = ", ".join(f"{k}={v}" for k, v in self.tables.items())
                lines.append(f"  rows: {rows}")
        if self.stopped:
            lines.append(f"  STOPPED ({self.stopped}): {self.message}")
        if self.pending:
            lines.append(f"  PENDING: {len(self.pending)} request(s) not answered by this run:")
            lines.extend(f"    {line}" for line in describe_pending(self.pending).splitlines())
        return "\n".join(lines)


def run_ingest(
    config: PipelineConfig,
    *,
    interval_start: str | datetime | None = None,
    interval_end: str | datetime | None = None,
    run_id: str | None = None,
    dry_run: bool = False,
    force: Sequence[str] | None = None,
    replan: bool = False,
) -> IngestReport:
    """Run every step for one interval (or the named ``force`` objects, re-OCR'd).

    ``replan`` also takes the objects finished before and plans them under the current routes
    and limits: requests that did not change are answered already (no call), changed ones are
    sent.
    """
    run_id = run_id or new_run_id()
    report = IngestReport(
        run_id=run_id,
        interval_start=str(interval_start) if interval_start is not None else None,
        interval_end=str(interval_end) if interval_end is not None else None,
        dry_run=dry_run,
    )
    if force:
        discovered = select_objects(config, force)
    else:
        discovered = discover(config, interval_start, interval_end, run_id, replan=replan)
    report.discovered = len(discovered)
    planned = plan(config, discovered, run_id)
    report.planned_objects = planned["objects"]
    report.rejected_objects = planned["rejected_objects"]
    report.deferred_objects = len(planned["deferred_objects"])
    report.estimate = planned["estimate"]
    if dry_run:
        return report

    # One stream for the whole run: one client, its slots kept busy from the first request to
    # the last (the plan's batches are the unit of an Airflow task, not of this process).
    results = []
    totals = dict.fromkeys(OCR_COUNTERS, 0)
    every = [req for batch in planned["batches"] for req in batch]
    requests = len(every)
    with progress.phase("OCR", requests, unit="requests") as shown:
        if every:

            def answered(billed: int) -> None:
                shown.advance(1, billed=billed)

            result = ocr_batch(config, every, run_id, force=bool(force), on_answer=answered)
            results.append(result)
            for name in OCR_COUNTERS:
                totals[name] += int(result[name])
            shown.advance(max(0, requests - shown.done), billed=totals["billable_calls"])
            report.pending_request_ids.extend(result["pending_ids"])
            report.pending.update(result["pending_reasons"])
            if result["stopped"] and report.stopped is None:
                report.stopped, report.message = result["stopped"], result["message"]
    report.totals = totals
    # A request deferred by one batch (claimed) may have been answered by another.
    done = {rid for result in results for rid in result["request_ids"]}
    report.pending = {k: v for k, v in report.pending.items() if k not in done}
    report.pending_request_ids = sorted(set(report.pending_request_ids) - done)
    report.billing = open_ledger(config).bill(scope=budget_scope(config.budget), run_id=run_id)[
        "totals"
    ]

    if results:
        with progress.phase("flatten", requests, unit="requests") as shown:
            flat = flatten_run(config, run_id, results)
            shown.advance(requests)
        report.object_status = flat["object_status"]
        report.tables = flat["tables"]
        if flat["documents"] or flat["objects"]:
            with progress.phase("load", 1, unit="batch") as shown:
                report.load = load_run(config, flat, run_id)
                shown.advance(1)
    return report


__all__ = ["IngestReport", "new_run_id", "run_ingest"]
