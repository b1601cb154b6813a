"""Envelopes (the raw store), transient failures, object states, run markers, planned batches.

The layout of the store is drawn in :mod:`clova_etl.pipeline.ledger`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, timedelta
from typing import Any

import orjson

from clova_etl.envelope import RawEnvelope
from clova_etl.pipeline.ledger.charges import Charges, summarize
from clova_etl.pipeline.ledger.claims import Claims
from clova_etl.pipeline.ledger.keys import (
    TERMINAL_STATUSES,
    object_id,
    run_key,
    utcnow,
)
from clova_etl.pipeline.ledger.keys import dumps as _dumps
from clova_etl.pipeline.storage import Storage


class Ledger:
    """Envelopes, object states and run markers; claims and charges beside them."""

    def __init__(self, store: Storage) -> None:
        self.store = store
        self.claims = Claims(store)
        self.charges = Charges(store)

    # -- envelopes ------------------------------------------------------------------------------

    @staticmethod
    def raw_key(request_id: str) -> str:
        """Key of a sent request's envelope."""
        return f"raw/{request_id}.json"

    @staticmethod
    def rejected_key(request_id: str) -> str:
        """Key of a rejected (never sent) request's envelope."""
        return f"rejected/{request_id}.json"

    def raw_uri(self, request_id: str) -> str:
        """URI of a sent request's envelope."""
        return self.store.uri_for(self.raw_key(request_id))

    def has_raw(self, request_id: str) -> bool:
        """Whether the request was already sent and answered (so it must not be sent again)."""
        return self.store.exists(self.raw_key(request_id))

    def write_envelope(self, envelope: RawEnvelope, *, force: bool = False) -> str:
        """Store an envelope atomically; return its URI.

        A sent request's envelope goes to ``raw/`` (replacing a rejected one); a rejected
        request's to ``rejected/``, unless it was meanwhile sent. ``force`` keeps the previous
        raw envelope under ``superseded/``.
        """
        rid = envelope.request_id
        day = (envelope.call.completed_at or utcnow()).astimezone(UTC).date().isoformat()
        body = envelope.model_dump_json().encode()
        # Index first: an index entry without its envelope is skipped by replay, while an
        # envelope without its index entry would be invisible to a replay by date.
        self.store.write(f"index/{day}/{rid}", _dumps({"request_id": rid, "day": day}))
        if envelope.call.status == "rejected":
            if self.has_raw(rid):
                return self.raw_uri(rid)
            key = self.rejected_key(rid)
            self.store.write(key, body)
            return self.store.uri_for(key)
        key = self.raw_key(rid)
        if force:
            old = self.store.read_if_exists(key)
            if old is not None:
                stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
                self.store.write(f"superseded/{rid}/{stamp}.json", old)
        self.store.write(key, body)
        self.store.delete(self.rejected_key(rid))
        return self.store.uri_for(key)

    def read_envelope(self, request_id: str) -> RawEnvelope | None:
        """The stored envelope (sent first, then rejected), or None."""
        for key in (self.raw_key(request_id), self.rejected_key(request_id)):
            data = self.store.read_if_exists(key)
            if data is not None:
                return RawEnvelope.model_validate_json(data)
        return None

    def envelope_key(self, request_id: str) -> str | None:
        """Key of the stored envelope of a request, or None."""
        for key in (self.raw_key(request_id), self.rejected_key(request_id)):
            if self.store.exists(key):
                return key
        return None

    def request_ids_between(self, since: date, until: date) -> list[str]:
        """Ids of the envelopes written on days ``since..until`` (inclusive), from the index."""
        out: set[str] = set()
        days = (until - since).days + 1
        if 0 < days <= 366:
            # A bounded range lists only its own days.
            keys = [
                k
                for n in range(days)
                for k in self.store.list_keys(f"index/{(since + timedelta(days=n)).isoformat()}/")
            ]
        else:
            keys = self.store.list_keys("index/")
        for key in keys:
            _, day, rid = key.split("/", 2)
            try:
                d = date.fromisoformat(day)
            except ValueError:
                continue
            if since <= d <= until:
                out.add(rid)
        return sorted(out)

    # -- transient failures ---------------------------------------------------------------------

    def record_transient(
        self, request_id: str, run_id: str, code: str | None, msg: str, *, lost: int = 0
    ) -> int:
        """Count a transient failure of a request; return how many runs have seen one.

        ``lost`` counts attempts whose answer may have been billed and was lost: sending the
        request again is then a re-send (see :meth:`lost_answers`).
        """
        key = f"attempts/{request_id}.json"
        data = self.store.read_if_exists(key)
        state: dict[str, Any] = orjson.loads(data) if data else {"runs": [], "errors": []}
        if run_id not in state["runs"]:
            state["runs"].append(run_id)
        state["errors"] = [*state["errors"][-9:], {"run_id": run_id, "code": code, "msg": msg}]
        state["lost"] = int(state.get("lost", 0)) + lost
        self.store.write(key, _dumps(state))
        return len(state["runs"])

    def lost_answers(self, request_id: str) -> int:
        """Answers of a request that earlier runs lost after the service may have billed them."""
        data = self.store.read_if_exists(f"attempts/{request_id}.json")
        return int(orjson.loads(data).get("lost", 0)) if data else 0

    def clear_transient(self, request_id: str) -> None:
        """Forget the transient failures of a request that has now been answered."""
        self.store.delete(f"attempts/{request_id}.json")

    # -- object states --------------------------------------------------------------------------

    def object_state(self, uri: str) -> dict[str, Any] | None:
        """The stored state (an etl_objects row plus bookkeeping) of an object."""
        data = self.store.read_if_exists(f"objects/{object_id(uri)}.json")
        return orjson.loads(data) if data else None

    def write_object_states(self, states: Iterable[dict[str, Any]]) -> None:
        """Store objects' states (one flush for them all); terminal ones with their markers.

        Each state is written before its marker, so a marker never points at an older state.
        """
        states = list(states)
        self.store.write_many(
            (f"objects/{object_id(s['source_uri'])}.json", _dumps(s)) for s in states
        )
        self.store.write_many(
            (f"terminal/{object_id(s['source_uri'])}.{s['version']}", _dumps(s["status"]))
            for s in states
            if s["status"] in TERMINAL_STATUSES
        )

    def clear_terminal(self, uri: str, version: str) -> None:
        """Forget that an object version is terminal (forced re-processing)."""
        self.store.delete(f"terminal/{object_id(uri)}.{version}")

    def terminal_versions(self) -> set[str]:
        """``<object_id>.<version>`` of every object version with a terminal status."""
        return {k.split("/", 1)[1] for k in self.store.list_keys("terminal/")}

    def object_states(self) -> list[dict[str, Any]]:
        """Every stored object state."""
        out = []
        for key in self.store.list_keys("objects/"):
            data = self.store.read_if_exists(key)
            if data:
                out.append(orjson.loads(data))
        return out

    # -- the bill -------------------------------------------------------------------------------

    def bill(
        self,
        *,
        scope: str | None = None,
        run_id: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> dict[str, Any]:
        """Calls and pages the service bills, from the charge records (see :func:`summarize`)."""
        records = self.charges.records(scope=scope, run_id=run_id)
        return summarize(records, self.claims, since=since, until=until)

    # -- run markers ----------------------------------------------------------------------------

    def mark_quota_exhausted(self, run_id: str, message: str) -> None:
        """Remember that CLOVA refused further calls (0023) during this run."""
        self.store.write(
            run_key(run_id, "quota_exhausted"),
            _dumps({"at": utcnow().isoformat(), "message": message}),
        )

    def quota_exhausted(self, run_id: str) -> bool:
        """Whether a task of this run already hit the quota."""
        return self.store.exists(run_key(run_id, "quota_exhausted"))

    # -- planned batches ------------------------------------------------------------------------

    @staticmethod
    def batch_key(run_id: str, index: int) -> str:
        """Key of a run's planned batch number ``index``."""
        return run_key(run_id, f"batches/{index:05d}.json")

    def write_batch(self, run_id: str, index: int, requests: list[dict[str, Any]]) -> str:
        """Store one planned batch (request dicts); return its key."""
        key = self.batch_key(run_id, index)
        self.store.write(key, _dumps(requests))
        return key

    def read_batch(self, key: str) -> list[dict[str, Any]]:
        """A planned batch written by :meth:`write_batch`."""
        parts = key.split("/")
        if len(parts) != 4 or parts[0] != "runs" or parts[2] != "batches":
            raise ValueError(f"not a planned batch key: {key!r}")
        batch: list[dict[str, Any]] = orjson.loads(self.store.read(key))
        return batch

    def keys(self, prefix: str) -> Iterable[str]:
        """Keys under a prefix of the store (for reports and tests)."""
        return self.store.list_keys(prefix)


__all__ = ["Ledger"]
