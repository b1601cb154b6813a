"""The ledger: the spine every process shares, kept in the store with conditional writes.

Layout of the store (keys relative to its root)::

    raw/<request_id>.json              envelope of a request that was sent and answered (bronze)
    rejected/<request_id>.json         envelope of a request never sent (bad input)
    index/<yyyy-mm-dd>/<request_id>    date index of both, by the day the envelope was written
    claims/<request_id>.json           who is calling it right now, until when
    attempts/<request_id>.json         transient failures so far (network, 5xx, throttling)
    objects/<object_id>.json           each discovered object's latest state (etl_objects row)
    terminal/<object_id>.<version>     marker: this object version reached a terminal status
    billing/<scope>/<run_id>/<request_id>__<pages>__<time>.json   one per billable call
    runs/<run_id>/quota_exhausted      marker: CLOVA answered 0023 in this run
    runs/<run_id>/batches/<index>.json the run's planned batches (Airflow maps over references)
    plans/<object_id>.<version>.<settings>   cached plan of an object version (skips re-reading)
    parquet/<run_id>/<table>/part-*.parquet  the run's flattened rows (silver)

An envelope in ``raw/`` means the request is never sent again unless forced; a forced re-call
first copies the old envelope to ``superseded/<request_id>/<time>.json``.

Modules: :mod:`.keys` (names), :mod:`.claims` (who calls what), :mod:`.records` (envelopes,
object states, run markers).
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
