"""Claims: who is calling a request right now, for as long as that worker lives.

A claim is an atomic create of ``claims/<request_id>.json``; a stale one (past its expiry) is
taken over with a compare-and-swap on the version read, so of several racers exactly one wins.
A live worker renews its claims (:class:`ClaimKeeper`) well before they expire, so a claim
outlives its worker by at most its time to live: the task retried elsewhere takes it over.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable
from dataclasses import MISSING, asdict, dataclass, replace
from datetime import datetime, timedelta
from types import TracebackType

import orjson

from clova_etl.pipeline.ledger.keys import default_owner, dumps, utcnow
from clova_etl.pipeline.storage import Storage

logger = logging.getLogger("clova_etl.pipeline.claims")


@dataclass(frozen=True)
class Claim:
    """A held claim on a request_id."""

    request_id: str
    token: str
    owner: str
    run_id: str
    claimed_at: str
    expires_at: str
    # The stale claim this one took over (its token and run): its worker may have died mid-call.
    replaced: str | None = None
    replaced_run: str | None = None

    @property
    def expired(self) -> bool:
        """Whether the claim is stale (its holder may be dead)."""
        return datetime.fromisoformat(self.expires_at) <= utcnow()


class Claims:
    """The claims of one store."""

    def __init__(self, store: Storage) -> None:
        self.store = store

    @staticmethod
    def key(request_id: str) -> str:
        """Key of a request's claim."""
        return f"claims/{request_id}.json"

    def take(
        self, request_id: str, run_id: str, ttl_seconds: float, *, owner: str | None = None
    ) -> Claim | None:
        """Claim a request before calling it; None when someone else holds a live claim."""
        now = utcnow()
        claim = Claim(
            request_id=request_id,
            token=uuid.uuid4().hex,
            owner=owner or default_owner(),
            run_id=run_id,
            claimed_at=now.isoformat(),
            expires_at=(now + timedelta(seconds=ttl_seconds)).isoformat(),
        )
        body = dumps(asdict(claim))
        key = self.key(request_id)
        for _ in range(3):
            if self.store.create(key, body):
                return claim
            info = self.store.info(key)
            data = self.store.read_if_exists(key)
            if info is None or data is None:
                continue  # released between our create and our read: try again
            current = _parse(data)
            if current is not None and not current.expired:
                return None
            if current is not None:
                claim = replace(claim, replaced=current.token, replaced_run=current.run_id)
                body = dumps(asdict(claim))
            if self.store.replace_if(key, body, info.etag):
                return claim
            return None
        return None

    def current(self, request_id: str) -> Claim | None:
        """The claim currently stored for a request, if any."""
        data = self.store.read_if_exists(self.key(request_id))
        return _parse(data) if data is not None else None

    def renew(self, claim: Claim, ttl_seconds: float) -> Claim | None:
        """Push a held claim's expiry ``ttl_seconds`` from now; None if it is no longer ours."""
        key = self.key(claim.request_id)
        info = self.store.info(key)
        data = self.store.read_if_exists(key)
        current = _parse(data) if data is not None else None
        if info is None or current is None or current.token != claim.token:
            return None
        renewed = replace(claim, expires_at=(utcnow() + timedelta(seconds=ttl_seconds)).isoformat())
        if self.store.replace_if(key, dumps(asdict(renewed)), info.etag):
            return renewed
        return None

    def release(self, claim: Claim) -> None:
        """Drop a claim we hold (left alone if someone took it over meanwhile)."""
        current = self.current(claim.request_id)
        if current is not None and current.token == claim.token:
            self.store.delete(self.key(claim.request_id))


def _parse(data: bytes) -> Claim | None:
    try:
        raw = orjson.loads(data)
        fields = Claim.__dataclass_fields__
        return Claim(**{k: raw[k] for k in fields if k in raw or fields[k].default is MISSING})
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None  # a damaged claim counts as stale


class ClaimKeeper:
    """Renews the claims a worker holds, from a background thread, until it stops.

    Renewal runs every ``ttl_seconds / 4``: a claim survives three missed renewals (a slow
    store, a long GC pause) and still expires within ``ttl_seconds`` of the worker's death.
    """

    def __init__(self, claims: Claims, ttl_seconds: float) -> None:
        self.claims = claims
        self.ttl_seconds = ttl_seconds
        self._held: dict[str, Claim] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, claims: Iterable[Claim]) -> None:
        """Keep these claims alive."""
        with self._lock:
            for claim in claims:
                self._held[claim.request_id] = claim

    def release(self, claim: Claim) -> None:
        """Stop renewing a claim and drop it from the store."""
        with self._lock:
            held = self._held.pop(claim.request_id, claim)
        self.claims.release(held)

    def renew_now(self) -> None:
        """Renew every held claim once (the background thread calls this)."""
        with self._lock:
            held = list(self._held.values())
        for claim in held:
            try:
                renewed = self.claims.renew(claim, self.ttl_seconds)
            except Exception:  # a failed renewal is retried next round; the claim still holds
                logger.warning(
                    "claim renewal failed request_id=%s", claim.request_id, exc_info=True
                )
                continue
            with self._lock:
                if claim.request_id not in self._held:
                    continue  # released while we renewed
                if renewed is None:
                    logger.warning(
                        "claim lost request_id=%s (expired and taken over): another worker may "
                        "send it too",
                        claim.request_id,
                    )
                    del self._held[claim.request_id]
                else:
                    self._held[claim.request_id] = renewed

    def _loop(self) -> None:
        while not self._stop.wait(self.ttl_seconds / 4):
            self.renew_now()

    def __enter__(self) -> ClaimKeeper:
        self._thread = threading.Thread(target=self._loop, name="clova-etl-claims", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            left = list(self._held.values())
            self._held.clear()
        for claim in left:
            self.claims.release(claim)


__all__ = ["Claim", "ClaimKeeper", "Claims"]
