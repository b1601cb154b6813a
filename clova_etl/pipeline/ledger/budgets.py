"""Budgets that hold across every task, worker and CLI process sharing the store.

Two counters per scope, ``budgets/<scope>/scope.json`` and ``budgets/<scope>/runs/<run>.json``,
hold the calls and pages *reserved*: answered, possibly billed, and in flight. A batch reserves
what it is about to send with one compare-and-swap per counter (:mod:`.store`), so processes
racing for the last units of a budget cannot both get them; a re-try reserves again; what was
not spent after all (an error the service does not bill, a request never sent, pages answered
with ERROR) is given back when the batch ends. A process that dies keeps its reservations:
a budget errs on the side of spending less. The bill itself is :mod:`.charges`.

A counter that does not exist yet (the first run of a scope, or a store written by an older
version) starts from the charge records (and older versions' ``billing/`` records) in the store.
"""

from __future__ import annotations

from collections.abc import Sequence

from clova_etl.config import BudgetConfig
from clova_etl.pipeline.billing import Spent, budget_scope, fit_budget
from clova_etl.pipeline.ledger.charges import Charges
from clova_etl.pipeline.ledger.keys import seg
from clova_etl.pipeline.ledger.store import Record, read_record, update
from clova_etl.pipeline.planner import PlannedRequest
from clova_etl.pipeline.storage import Storage


def _spent(record: Record | None) -> Spent:
    if record is None:
        return Spent()
    return Spent(int(record.get("calls", 0)), int(record.get("pages", 0)))


def _record(spent: Spent) -> Record:
    return {"calls": max(0, spent.calls), "pages": max(0, spent.pages)}


class Budgets:
    """The reserved spending of one budget scope and its runs."""

    def __init__(self, store: Storage, budget: BudgetConfig) -> None:
        self.store = store
        # Per-scope limits apply to a named scope only (the default scope spans all history).
        self.budget = (
            budget
            if budget.scope
            else budget.model_copy(
                update={"max_calls_per_scope": None, "max_pages_per_scope": None}
            )
        )
        self.scope = budget_scope(budget)
        self._charges = Charges(store)

    def _key(self, run_id: str | None) -> str:
        base = f"budgets/{seg(self.scope)}/"
        return base + (f"runs/{seg(run_id)}.json" if run_id is not None else "scope.json")

    def _baseline(self, run_id: str | None) -> Spent:
        """What the charge records already hold (for a counter that does not exist yet)."""
        calls = pages = 0
        for charge in self._charges.records(scope=self.scope, run_id=run_id):
            if charge.outcome == "not_billed":
                continue
            calls += 1
            pages += charge.billed_pages if charge.outcome == "answered" else charge.pages_expected
        legacy = f"billing/{seg(self.scope)}/" + (f"{seg(run_id)}/" if run_id else "")
        for key in self.store.list_keys(legacy):
            # A store written before charge records: one file per billed call, pages in its name.
            parts = key.rsplit("/", 1)[-1].removesuffix(".json").split("__")
            if len(parts) == 3:
                calls += 1
                pages += int(parts[1]) if parts[1].isdigit() else 0
        return Spent(calls, pages)

    def _change(
        self, run_id: str | None, step: Spent | None, fit: Sequence[PlannedRequest] | None
    ) -> tuple[Spent, int]:
        """Apply a change to one counter; return (its value before, requests that fit).

        ``step`` adds (or, negative, gives back) units; ``fit`` reserves the longest prefix of
        the requests its limits allow.
        """
        key = self._key(run_id)
        baseline = self._baseline(run_id) if self.store.info(key) is None else Spent()
        result: list[tuple[Spent, int]] = []

        def change(current: Record | None) -> Record | None:
            before = _spent(current) if current is not None else baseline
            if fit is not None:
                run_spent, scope_spent = (before, Spent()) if run_id else (Spent(), before)
                allowed, _ = fit_budget(fit, self.budget, run_spent, scope_spent)
                n = len(allowed)
                after = before.plus(n, sum(r.pages for r in allowed))
            else:
                assert step is not None
                n = 0
                after = before.plus(step.calls, step.pages)
            result[:] = [(before, n)]
            if current is not None and after == before:
                return None
            return _record(after)

        update(self.store, key, change)
        return result[0]

    def spent(self, run_id: str) -> tuple[Spent, Spent]:
        """(run, scope) reserved so far (read only: a dry run writes nothing)."""

        def one(run: str | None) -> Spent:
            record = read_record(self.store, self._key(run))
            return _spent(record) if record is not None else self._baseline(run)

        return one(run_id), one(None)

    def reserve(
        self, run_id: str, requests: Sequence[PlannedRequest]
    ) -> tuple[list[PlannedRequest], str | None]:
        """Reserve the longest prefix of ``requests`` the budget allows; say why the rest waits."""
        run_before, n_run = self._change(run_id, None, requests)
        scope_before, n_scope = self._change(None, None, requests[:n_run])
        allowed = list(requests[:n_scope])
        if n_scope < n_run:
            # The scope ran out first: give the run back what the scope did not allow.
            extra = requests[n_scope:n_run]
            self._change(run_id, Spent(-len(extra), -sum(r.pages for r in extra)), None)
        if len(allowed) == len(requests):
            return allowed, None
        _, message = fit_budget(requests, self.budget, run_before, scope_before)
        return allowed, message or (
            f"budget reached: reserved by concurrent tasks meanwhile; "
            f"{len(requests) - len(allowed)} request(s) left pending"
        )

    def release(self, run_id: str, calls: int, pages: int) -> None:
        """Give back reserved units that were not spent."""
        if calls <= 0 and pages <= 0:
            return
        self._change(run_id, Spent(-calls, -pages), None)
        self._change(None, Spent(-calls, -pages), None)


__all__ = ["Budgets"]
