"""A team's circuit in the state store, shared by every worker process; transitions are atomic.

Every change is a compare-and-set from the text this process read, so no process
rewrites a state it did not see: two processes tripping together open it once, a
process joining an open circuit reads it and does not reset it. The half-open slot
is a lease in the store (``acquire``): exactly one probe across the fleet at a time,
and a probe whose worker dies frees the slot when its lease lapses. Only the holder
of the lease may close the circuit, and only after its call succeeded.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from ..state import StateStore
from .circuit import Circuit, probe_failed, tripped

__all__ = ["BreakerPolicy", "Probe", "SharedBreaker", "circuit_key"]


def circuit_key(team: str | None, what: str) -> str:
    """The store's key of ``team``'s ``what`` ("circuit", "probe", "not_before"); length-prefixed like contacts."""
    name = team or ""
    return f"flow:{what}:{len(name)}:{name}"


@dataclass(frozen=True)
class BreakerPolicy:
    """The numbers a breaker follows (from :class:`~sendx_worker.flow.settings.FlowSettings`)."""

    open_s: float
    open_max_s: float
    #: How long a probe's lease lasts: longer than its call can take (SENDX_TIMEOUT plus a margin).
    probe_ttl_s: float


@dataclass(frozen=True)
class Probe:
    """The half-open slot, held: this process's one call that tests SendX."""

    owner: str
    circuit: Circuit


class SharedBreaker:
    """One team's circuit in ``store``; every method may raise StoreUnavailable."""

    def __init__(
        self,
        store: StateStore,
        team: str | None,
        policy: BreakerPolicy,
        *,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.team = team
        self.policy = policy
        self._jitter = jitter
        self._key = circuit_key(team, "circuit")
        self._probe_key = circuit_key(team, "probe")

    def read(self) -> tuple[str | None, Circuit]:
        """The circuit's stored text and what it says."""
        raw = self.store.get(self._key)
        return raw, Circuit.decode(raw)

    def trip(self, now: float, *, reason: str = "transient") -> Circuit | None:
        """Open a closed circuit at ``now``; the new circuit if this call opened it, else None."""
        raw, circuit = self.read()
        if circuit.is_open:
            return None
        new = tripped(
            now, open_s=self.policy.open_s, open_max_s=self.policy.open_max_s, jitter=self._jitter(), reason=reason
        )
        return new if self.store.compare_and_set(self._key, raw, new.encode()) else None

    def try_probe(self, now: float) -> Probe | None:
        """Take the half-open slot if the circuit is open, its interval is over and no probe runs."""
        _, circuit = self.read()
        if not circuit.is_open or now < circuit.retry_at:
            return None
        # An owner per probe, not per process: the store lets an owner take its own lease again.
        owner = uuid.uuid4().hex
        if not self.store.acquire(self._probe_key, owner, ttl_s=self.policy.probe_ttl_s):
            return None
        return Probe(owner, circuit)

    def probe_done(self, probe: Probe, ok: bool, now: float) -> Circuit | None:
        """Close the circuit (``ok``) or open it for a longer interval; the new circuit, or None if nothing changed.

        Nothing changes unless ``probe`` still holds the slot (its lease did not lapse
        into another probe's hands) and the circuit is still open.
        """
        try:
            if not self.store.acquire(self._probe_key, probe.owner, ttl_s=self.policy.probe_ttl_s):
                return None
            raw, circuit = self.read()
            if not circuit.is_open:
                return None
            new = (
                Circuit("closed", since=now)
                if ok
                else probe_failed(
                    circuit, now, open_s=self.policy.open_s, open_max_s=self.policy.open_max_s, jitter=self._jitter()
                )
            )
            return new if self.store.compare_and_set(self._key, raw, new.encode()) else None
        finally:
            self.store.release(self._probe_key, probe.owner)

    def abandon(self, probe: Probe) -> None:
        """Free the slot without a verdict (the probe's message made no call after all)."""
        self.store.release(self._probe_key, probe.owner)

    def probing(self) -> bool:
        """True while a probe holds the half-open slot."""
        return self.store.get(self._probe_key) is not None

    def not_before(self) -> float:
        """The fleet-wide time before which no call goes (a ``Retry-After``), or 0."""
        raw = self.store.get(circuit_key(self.team, "not_before"))
        try:
            return float(raw) if raw is not None else 0.0
        except ValueError:
            return 0.0

    def push_not_before(self, until: float, now: float) -> None:
        """Hold every process's calls until ``until`` (only ever later; a few tries against racing writers)."""
        key = circuit_key(self.team, "not_before")
        for _ in range(3):
            raw = self.store.get(key)
            try:
                current = float(raw) if raw is not None else 0.0
            except ValueError:
                current = 0.0
            if current >= until:
                return
            ttl = max(until - now, 1.0) + 60.0
            if self.store.compare_and_set(key, raw, repr(until), ttl_s=ttl):
                return
