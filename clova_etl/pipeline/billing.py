"""Cost control: what a batch would cost, what a budget still allows, what a backfill would cost.

A call to CLOVA is charged per request and per page; the pipeline counts, for each request it is
about to send, one call and the pages it covers (an upper bound: pages answered with ERROR are
not charged). Budgets are checked *before* a batch is sent, so a run never spends past them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from clova_etl.config import BudgetConfig
from clova_etl.pipeline.planner import PlannedRequest

DEFAULT_SCOPE = "default"


@dataclass(frozen=True)
class Spent:
    """Billable calls and pages already recorded."""

    calls: int = 0
    pages: int = 0

    def plus(self, calls: int, pages: int) -> Spent:
        """This plus some more."""
        return Spent(self.calls + calls, self.pages + pages)


def budget_scope(budget: BudgetConfig) -> str:
    """The scope billing records are kept under."""
    return budget.scope or DEFAULT_SCOPE


def fit_budget(
    requests: Sequence[PlannedRequest],
    budget: BudgetConfig,
    run_spent: Spent,
    scope_spent: Spent,
) -> tuple[list[PlannedRequest], str | None]:
    """The longest prefix of ``requests`` the budget allows, and why the rest must wait."""
    limits = (
        ("run", "calls", budget.max_calls_per_run, run_spent.calls),
        ("run", "pages", budget.max_pages_per_run, run_spent.pages),
        ("scope", "calls", budget.max_calls_per_scope, scope_spent.calls),
        ("scope", "pages", budget.max_pages_per_scope, scope_spent.pages),
    )
    calls = pages = 0
    allowed: list[PlannedRequest] = []
    for req in requests:
        for where, unit, limit, spent in limits:
            if limit is None:
                continue
            need = spent + (calls + 1 if unit == "calls" else pages + req.pages)
            if need > limit:
                name = f"max_{unit}_per_{where}"
                label = f"budget scope {budget.scope!r}" if where == "scope" else "this run"
                return allowed, (
                    f"budget reached: {name}={limit} for {label} ({spent} {unit} already "
                    f"billed, {calls} calls / {pages} pages in this batch); "
                    f"{len(requests) - len(allowed)} request(s) left pending"
                )
        allowed.append(req)
        calls += 1
        pages += req.pages
    return allowed, None


@dataclass
class Estimate:
    """What processing a set of planned requests would cost (a dry run's answer)."""

    objects: int = 0
    rejected_objects: int = 0
    requests: int = 0
    already_done: int = 0
    to_send_calls: int = 0
    to_send_pages: int = 0
    by_route: dict[str, dict[str, int]] = field(default_factory=dict)
    rejected_by_code: dict[str, int] = field(default_factory=dict)
    budget_allows_calls: int | None = None
    budget_message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def estimate(
    requests: Sequence[PlannedRequest],
    done: set[str],
    *,
    objects: int = 0,
    rejected_codes: Sequence[str] = (),
    budget: BudgetConfig | None = None,
    run_spent: Spent = Spent(),
    scope_spent: Spent = Spent(),
) -> Estimate:
    """Calls and pages the requests not yet in the raw store would cost.

    Requests are counted once per ``request_id`` (content and options): byte-identical objects
    share one call, as the run itself sends it once.
    """
    est = Estimate(objects=objects, rejected_objects=len(rejected_codes))
    est.rejected_by_code = dict(Counter(rejected_codes))
    todo: list[PlannedRequest] = []
    counted: set[str] = set()
    for req in requests:
        if req.rejected or req.request_id in counted:
            continue
        counted.add(req.request_id)
        est.requests += 1
        if req.request_id in done:
            est.already_done += 1
            continue
        todo.append(req)
        est.to_send_calls += 1
        est.to_send_pages += req.pages
        route = est.by_route.setdefault(req.route, {"calls": 0, "pages": 0})
        route["calls"] += 1
        route["pages"] += req.pages
    if budget is not None:
        allowed, message = fit_budget(todo, budget, run_spent, scope_spent)
        est.budget_allows_calls = len(allowed)
        est.budget_message = message
    return est


__all__ = ["DEFAULT_SCOPE", "Estimate", "Spent", "budget_scope", "estimate", "fit_budget"]
