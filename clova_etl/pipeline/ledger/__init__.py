"""The ledger: the spine every process shares, kept in the store with conditional writes.

Layout of the store (keys relative to its root)::

    raw/<request_id>.json              envelope of a request that was sent and answered (bronze)
    rejected/<request_id>.json         envelope of a request never sent (bad input)
    index/<yyyy-mm-dd>/<request_id>    date index of both, by the day the envelope was written
    claims/<request_id>.json           who is calling it right now, until when (renewed while alive)
    charges/<scope>/<run_id>/<request_id>__<attempt>__<token>.json   one per HTTP attempt,
                                       written before it is sent, settled with its outcome after
    answers/<request_id>/<token>.body  a 2xx answer that could not be read, kept as received
    budgets/<scope>/scope.json         calls and pages reserved in a budget scope (compare-and-swap)
    budgets/<scope>/runs/<run_id>.json the same for one run
    limits/<domain>.json               the next free start time of a domain's shared rate limit
    attempts/<request_id>.json         transient failures so far (network, 5xx, throttling)
    objects/<object_id>.json           each discovered object's latest state (etl_objects row)
    terminal/<object_id>.<version>     marker: this object version reached a terminal status
    runs/<run_id>/quota_exhausted      marker: CLOVA answered 0023 in this run
    runs/<run_id>/batches/<index>.json the run's planned batches (Airflow maps over references)
    plans/<object_id>.<version>.<settings>   cached plan of an object version (skips re-reading)
    parquet/<run_id>/<table>/part-*.parquet  the run's flattened rows (silver)

An envelope in ``raw/`` means the request is never sent again unless forced; a forced re-call
first copies the old envelope to ``superseded/<request_id>/<time>.json``.

Modules: :mod:`.keys` (names), :mod:`.store` (compare-and-swap of one record), :mod:`.claims`
(who calls what, for as long as it lives), :mod:`.charges` (the bill, written ahead),
:mod:`.budgets` (reservations against the budgets), :mod:`.limits` (the domain's rate),
:mod:`.records` (envelopes, object states, run markers).
"""

from __future__ import annotations

from clova_etl.config import PipelineConfig
from clova_etl.pipeline.ledger.claims import Claim, ClaimKeeper, Claims
from clova_etl.pipeline.ledger.keys import (
    TERMINAL_STATUSES,
    default_owner,
    object_id,
    run_key,
    seg,
    utcnow,
)
from clova_etl.pipeline.ledger.records import Ledger
from clova_etl.pipeline.storage import Storage


def open_ledger(config: PipelineConfig) -> Ledger:
    """The ledger over the configured store."""
    return Ledger(Storage.open(config.store))


__all__ = [
    "TERMINAL_STATUSES",
    "Claim",
    "ClaimKeeper",
    "Claims",
    "Ledger",
    "default_owner",
    "object_id",
    "open_ledger",
    "run_key",
    "seg",
    "utcnow",
]
