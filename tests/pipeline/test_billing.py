"""Budgets are checked before sending; estimates say what a run would cost."""

from __future__ import annotations

from datetime import UTC, datetime

from clova_etl.config import BudgetConfig, LimitsConfig, default_routes
from clova_etl.pipeline.billing import Spent, estimate, fit_budget
from clova_etl.pipeline.planner import PlannedRequest, plan_object
from clova_etl.pipeline.routing import Router
from clova_etl.pipeline.storage import ObjectInfo

from .conftest import docx, jpeg, pdf


def _requests() -> list[PlannedRequest]:
    out: list[PlannedRequest] = []
    docs = [
        ("inbox/general/a.jpg", jpeg(seed=1)),
        ("inbox/general/b.pdf", pdf(12)),  # 10 + 2 pages
        ("inbox/template/3/c.jpg", jpeg(seed=2)),
        ("inbox/general/d.docx", docx()),
    ]
    for key, data in docs:
        info = ObjectInfo(key, f"file:///b/{key}", len(data), datetime(2024, 1, 1, tzinfo=UTC))
        out.extend(plan_object(info, data, Router(default_routes()), LimitsConfig()).requests)
    return out


def test_fit_budget_by_calls_and_pages() -> None:
    reqs = [r for r in _requests() if not r.rejected]
    assert [r.pages for r in reqs] == [1, 10, 2, 1]
    allowed, why = fit_budget(reqs, BudgetConfig(), Spent(), Spent())
    assert allowed == reqs and why is None
    allowed, why = fit_budget(reqs, BudgetConfig(max_calls_per_run=3), Spent(1, 1), Spent())
    assert len(allowed) == 2 and why is not None and "max_calls_per_run=3" in why
    allowed, why = fit_budget(reqs, BudgetConfig(max_pages_per_run=12), Spent(), Spent())
    assert len(allowed) == 2 and why is not None and "max_pages_per_run=12" in why
    scope = BudgetConfig(scope="backfill-may", max_pages_per_scope=20)
    allowed, why = fit_budget(reqs, scope, Spent(), Spent(calls=30, pages=19))
    assert allowed == reqs[:1] and why is not None and "'backfill-may'" in why
    allowed, why = fit_budget(reqs, BudgetConfig(max_calls_per_run=0), Spent(), Spent())
    assert allowed == [] and why is not None


def test_estimate_counts_what_is_not_done() -> None:
    reqs = _requests()
    done = {reqs[0].request_id}
    est = estimate(
        reqs,
        done,
        objects=4,
        rejected_codes=["unsupported_format"],
        budget=BudgetConfig(max_pages_per_run=5),
    )
    assert (est.objects, est.rejected_objects, est.requests, est.already_done) == (4, 1, 4, 1)
    assert (est.to_send_calls, est.to_send_pages) == (3, 13)
    assert est.by_route == {
        "general": {"calls": 2, "pages": 12},
        "template": {"calls": 1, "pages": 1},
    }
    assert est.rejected_by_code == {"unsupported_format": 1}
    assert est.budget_allows_calls == 0 and est.budget_message
    assert est.to_dict()["to_send_pages"] == 13
