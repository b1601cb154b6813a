"""The ledger of charges, written ahead: one record per HTTP attempt, before it leaves.

``charges/<scope>/<run>/<request_id>__<attempt>__<token>.json`` is created (a conditional
create, like a claim) right before an attempt is sent, and rewritten with its outcome after:

===============  ============================================================================
outcome          meaning
===============  ============================================================================
answered         the service answered with an OCR result: billed for ``billed_pages``
not_billed       an error the service does not bill, or nothing reached it
possibly_billed  the service may have done the work and the answer was lost (a 2xx that
                 could not be read, a connection dropped or a read timeout after the upload)
(none)           in flight while its worker's claim lives; once the claim is gone (the worker
                 died mid-flight) it counts as possibly billed
===============  ============================================================================

The bill the service sends is ``answered + possibly_billed``; :func:`summarize` splits it by day,
run and scope, and counts the re-sent calls (a forced re-OCR, a re-send of an unreadable answer,
a request taken over from a dead worker or re-tried after a lost answer).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal

from clova_etl.pipeline.ledger.claims import Claims
from clova_etl.pipeline.ledger.keys import default_owner, dumps, seg, utcnow
from clova_etl.pipeline.ledger.store import read_record
from clova_etl.pipeline.storage import Storage

Outcome = Literal["answered", "not_billed", "possibly_billed"]

PREFIX = "charges/"


@dataclass(frozen=True)
class Charge:
    """One attempt's record (JSON in the store)."""

    request_id: str
    attempt: int
    token: str
    run_id: str
    scope: str
    worker: str
    claim_token: str | None
    source_uri: str | None
    pages_expected: int
    reserved_at: str
    resend: bool = False
    outcome: Outcome | None = None
    billed_pages: int = 0
    http_status: int | None = None
    error_code: str | None = None
    settled_at: str | None = None
    answer_key: str | None = None

    @property
    def key(self) -> str:
        """Where the record lives."""
        return charge_key(self.scope, self.run_id, self.request_id, self.attempt, self.token)

    @property
    def day(self) -> str:
        """The UTC day the attempt was sent."""
        return self.reserved_at[:10]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Charge:
        """A record read back."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in raw.items() if k in names})


def charge_key(scope: str, run_id: str, request_id: str, attempt: int, token: str) -> str:
    """Key of one attempt's record."""
    return f"{PREFIX}{seg(scope)}/{seg(run_id)}/{request_id}__{attempt}__{token}.json"


class Charges:
    """The charge records of one store."""

    def __init__(self, store: Storage) -> None:
        self.store = store

    def reserve(
        self,
        *,
        request_id: str,
        attempt: int,
        run_id: str,
        scope: str,
        pages_expected: int,
        claim_token: str | None,
        source_uri: str | None = None,
        resend: bool = False,
    ) -> Charge:
        """Write an attempt's record before it is sent (it is on disk when this returns)."""
        charge = Charge(
            request_id=request_id,
            attempt=attempt,
            token=uuid.uuid4().hex[:12],
            run_id=run_id,
            scope=scope,
            worker=default_owner(),
            claim_token=claim_token,
            source_uri=source_uri,
            pages_expected=pages_expected,
            reserved_at=utcnow().isoformat(),
            resend=resend,
        )
        if not self.store.create(charge.key, dumps(asdict(charge))):
            raise RuntimeError(f"charge record {charge.key} exists already")  # a fresh token
        return charge

    def settle(
        self,
        charge: Charge,
        outcome: Outcome,
        *,
        billed_pages: int = 0,
        http_status: int | None = None,
        error_code: str | None = None,
        answer_key: str | None = None,
    ) -> Charge:
        """Record how an attempt ended."""
        settled = replace(
            charge,
            outcome=outcome,
            billed_pages=billed_pages,
            http_status=http_status,
            error_code=error_code,
            answer_key=answer_key,
            settled_at=utcnow().isoformat(),
        )
        self.store.write(settled.key, dumps(asdict(settled)))
        return settled

    def records(self, *, scope: str | None = None, run_id: str | None = None) -> Iterator[Charge]:
        """Every record (of a scope, of a run of it)."""
        prefix = PREFIX
        if scope is not None:
            prefix += f"{seg(scope)}/"
            if run_id is not None:
                prefix += f"{seg(run_id)}/"
        for key in self.store.list_keys(prefix):
            raw = read_record(self.store, key)
            if raw is None:
                continue
            charge = Charge.from_dict(raw)
            if run_id is None or charge.run_id == run_id:
                yield charge

    def unsettled(self, request_id: str, claim_token: str, run_id: str, scope: str) -> bool:
        """Whether an attempt made under that claim never got an outcome (it died mid-call)."""
        prefix = f"{PREFIX}{seg(scope)}/{seg(run_id)}/"
        for key in self.store.list_keys(prefix):
            if not key.rsplit("/", 1)[-1].startswith(f"{request_id}__"):
                continue
            raw = read_record(self.store, key)
            if raw and raw.get("claim_token") == claim_token and raw.get("outcome") is None:
                return True
        return False


def effective_outcome(charge: Charge, claims: Claims) -> Outcome | Literal["in_flight"]:
    """A record's outcome; one without is in flight while its claim lives, else possibly billed."""
    if charge.outcome is not None:
        return charge.outcome
    if charge.claim_token is not None:
        claim = claims.current(charge.request_id)
        if claim is not None and claim.token == charge.claim_token and not claim.expired:
            return "in_flight"
    return "possibly_billed"


COUNTS = (
    "calls",
    "pages",
    "answered_calls",
    "answered_pages",
    "possibly_billed_calls",
    "possibly_billed_pages",
    "resent_calls",
    "resent_pages",
    "not_billed_calls",
    "in_flight_calls",
)


@dataclass
class BillLine:
    """Calls and pages of one group (a day, a run, a scope, or all)."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))

    def add(self, charge: Charge, outcome: str) -> None:
        """Count one attempt."""
        c = self.counts
        if outcome == "not_billed":
            c["not_billed_calls"] += 1
            return
        if outcome == "in_flight":
            c["in_flight_calls"] += 1
            return
        pages = charge.billed_pages if outcome == "answered" else charge.pages_expected
        c[f"{outcome}_calls"] += 1
        c[f"{outcome}_pages"] += pages
        c["calls"] += 1
        c["pages"] += pages
        if charge.resend:
            c["resent_calls"] += 1
            c["resent_pages"] += pages


def summarize(
    charges: Iterable[Charge],
    claims: Claims,
    *,
    since: date | None = None,
    until: date | None = None,
) -> dict[str, Any]:
    """The bill: totals and lines per day, run and scope (``since``/``until`` inclusive days)."""
    total = BillLine()
    by: dict[str, dict[str, BillLine]] = {"day": {}, "run_id": {}, "scope": {}}
    for charge in charges:
        day = date.fromisoformat(charge.day)
        if (since is not None and day < since) or (until is not None and day > until):
            continue
        outcome = effective_outcome(charge, claims)
        total.add(charge, outcome)
        for name, value in (
            ("day", charge.day),
            ("run_id", charge.run_id),
            ("scope", charge.scope),
        ):
            by[name].setdefault(value, BillLine()).add(charge, outcome)
    return {
        "totals": total.counts,
        "by_day": [{"day": k, **v.counts} for k, v in sorted(by["day"].items())],
        "by_run": [{"run_id": k, **v.counts} for k, v in sorted(by["run_id"].items())],
        "by_scope": [{"scope": k, **v.counts} for k, v in sorted(by["scope"].items())],
    }


def parse_day(value: str | date | datetime | None) -> date | None:
    """A day from an ISO date (or datetime) string."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value[:10])


__all__ = [
    "COUNTS",
    "Charge",
    "Charges",
    "Outcome",
    "charge_key",
    "effective_outcome",
    "parse_day",
    "summarize",
]
