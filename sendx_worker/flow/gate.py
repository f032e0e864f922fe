"""One worker process's flow control: a :class:`~.team.TeamFlow` per team, over the shared store.

The store is the one the worker already uses for ordering (``SENDX_STATE_URL``). When
it cannot be reached, each team falls back to a breaker in this process's memory (the
same rules, for this process alone) and the worker says so once; when the store answers
again, the shared breaker is back, said once too.

The ceiling of a process's calls in flight is its share of ``SENDX_MAX_CONCURRENCY``:
every :data:`LIVE_PERIOD_S` each process counts itself in a store counter for the
period, and divides by the count of the last full period.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import StoreUnavailable
from ..logs import context
from ..observe import NULL_OBSERVER, Observer
from ..state import StateStore
from ..state.memory import MemoryStore
from .breaker import BreakerPolicy, SharedBreaker
from .circuit import Circuit
from .concurrency import Aimd
from .settings import FlowSettings
from .team import Permit, TeamFlow

__all__ = ["LIVE_PERIOD_S", "FlowGate"]

logger = logging.getLogger("sendx_worker.flow")

#: How often a process counts itself among the live ones.
LIVE_PERIOD_S = 10.0
#: A probe's lease outlives its call (SENDX_TIMEOUT) by this much.
PROBE_MARGIN_S = 5.0


class FlowGate:
    """Admits calls to SendX for one process, per team; thread-safe."""

    def __init__(
        self,
        store: StateStore | None,
        settings: FlowSettings,
        *,
        timeout_s: float,
        pool_size: int,
        observer: Observer = NULL_OBSERVER,
    ) -> None:
        self.settings = settings
        self.store = store
        self.pool_size = pool_size
        self.observer = observer
        self.policy = BreakerPolicy(settings.open_s, settings.open_max_s, timeout_s + PROBE_MARGIN_S)
        self._local_store = MemoryStore()
        self._teams: dict[str | None, TeamFlow] = {}
        self._lock = threading.Lock()
        self.degraded = store is None
        self.live = 1
        self._live_period = -1
        if store is None:
            logger.warning("no state store: the circuit breaker is this process's own, not the fleet's")

    def admit(self, team: str | None, *, clock: Callable[[], float] = time.time) -> Permit | float:
        """A permit for one call to ``team`` (after holding up to SENDX_HOLD_S), or the seconds to defer by."""
        flow = self.team(team)
        self._count_live()
        return flow.admit(self.settings.hold_s, clock)

    def team(self, team: str | None) -> TeamFlow:
        """The flow control of ``team``, made on first use."""
        found = self._teams.get(team)
        if found is not None:
            return found
        with self._lock:
            found = self._teams.get(team)
            if found is None:
                shared = SharedBreaker(self.store or self._local_store, team, self.policy)
                local = SharedBreaker(self._local_store, team, self.policy)
                found = self._teams[team] = TeamFlow(self, team, shared, local, Aimd(ceiling=self.ceiling()))
            return found

    def ceiling(self) -> float:
        """This process's share of SENDX_MAX_CONCURRENCY, never above its threads."""
        return float(max(1, min(self.pool_size, math.ceil(self.settings.max_concurrency / max(self.live, 1)))))

    def rate_share(self) -> float | None:
        """This process's share of SENDX_RATE_LIMIT (requests/s per team), or None without one."""
        rate = self.settings.rate_limit
        return None if rate is None else rate / max(self.live, 1)

    def _count_live(self) -> None:
        period = int(time.time() // LIVE_PERIOD_S)
        if period == self._live_period or self.store is None or self.degraded:
            return
        self._live_period = period
        try:
            mine = self.store.incr(f"flow:live:{period}", ttl_s=3 * LIVE_PERIOD_S)
            last = int(self.store.get(f"flow:live:{period - 1}") or 0)
        except (StoreUnavailable, ValueError):
            return
        live = max(mine, last, 1)
        if live != self.live:
            self.live = live
            ceiling = self.ceiling()
            share = self.rate_share()
            for flow in list(self._teams.values()):
                with flow.cond:
                    flow.limiter.aimd.resize(ceiling)
                if flow.bucket is not None and share is not None:
                    flow.bucket.resize(share)

    # --- the store's health -------------------------------------------------------------

    def store_failed(self, exc: StoreUnavailable) -> None:
        """The store did not answer: fall back to per-process breakers (said once)."""
        with self._lock:
            if self.degraded:
                return
            self.degraded = True
        logger.error(
            "state store unreachable; a per-process circuit breaker stands in until it is back",
            extra=context(error=str(exc)),
        )

    def store_answered(self) -> None:
        """The store answered: the shared breakers are back (said once)."""
        if not self.degraded or self.store is None:
            return
        with self._lock:
            if not self.degraded:
                return
            self.degraded = False
        logger.warning("state store reachable again; the circuit breaker is the fleet's again")

    # --- what watchers see --------------------------------------------------------------

    def observer_circuit(self, team: str | None, circuit: Circuit) -> None:
        """Tell the observer a team's circuit changed."""
        _safely(self.observer, "circuit_changed", team or "", circuit.state, circuit.since)

    def observer_probe(self, team: str | None, outcome: str) -> None:
        """Tell the observer a probe ended."""
        _safely(self.observer, "probe_finished", team or "", outcome)

    def observer_limit(self, team: str | None, limit: float) -> None:
        """Tell the observer a team's concurrency limit moved."""
        _safely(self.observer, "concurrency_limit", team or "", limit)


def _safely(observer: Any, name: str, *args: Any) -> None:
    # An observer from before these events (a test's) may lack them; watching never breaks delivery.
    method = getattr(observer, name, None)
    if method is None:
        return
    try:
        method(*args)
    except Exception:
        logger.debug("observer failed", exc_info=True)
