"""One team's flow control in one process: its cached circuit, its failures, its slots, its probe.

The circuit is read from the store at most every :data:`POLL_S` per process (a call
on the happy path costs no store round trip); threads that meet an open circuit or
no free slot wait on one condition, woken by a transition or a freed slot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ApiError, StoreUnavailable
from ..logs import context
from .breaker import Probe, SharedBreaker
from .circuit import CLOSED, Circuit, FailureWindow
from .concurrency import Aimd, Limiter
from .outcome import kind_of
from .rate import TokenBucket

if TYPE_CHECKING:
    from .gate import FlowGate

#: A Retry-After longer than this holds the whole fleet's calls to the team (see ``learn``).
MIN_FLEET_HOLD_S = 1.0

__all__ = ["POLL_S", "Permit", "TeamFlow"]

logger = logging.getLogger("sendx_worker.flow")

#: How often one process reads a team's circuit from the store.
POLL_S = 0.5


@dataclass
class Permit:
    """Leave to make one call to a team; a ``with`` block frees its slot."""

    flow: TeamFlow
    probe: Probe | None
    #: Seconds the message waited for this permit.
    held_s: float
    _recorded: bool = False

    def __enter__(self) -> Permit:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.probe is not None and not self._recorded:
            self.flow.abandon(self.probe)
        self.flow.limiter.give_back()

    def record(self, exc: BaseException | None) -> None:
        """What the call did: ``exc`` is what it raised, None when it succeeded."""
        self._recorded = True
        self.flow.learn(exc, self.probe)


class TeamFlow:
    """Flow control toward one team, shared by one process's threads."""

    def __init__(
        self, gate: FlowGate, team: str | None, shared: SharedBreaker, local: SharedBreaker, aimd: Aimd
    ) -> None:
        self.gate = gate
        self.team = team
        self.shared = shared
        self.local = local
        self.limiter = Limiter(aimd)
        self.cond = self.limiter.cond
        self.window = FailureWindow(gate.settings.failures)
        self.circuit: Circuit = CLOSED
        self.not_before = 0.0
        self._checked_at = float("-inf")
        self._probe_tried_at = float("-inf")
        self._refreshing = threading.Lock()
        rate = gate.rate_share()
        self.bucket = TokenBucket(rate) if rate is not None else None

    # --- reading ------------------------------------------------------------------------

    def breaker(self) -> SharedBreaker:
        """The shared breaker, or this process's own while the store is unreachable."""
        return self.local if self.gate.degraded else self.shared

    def refresh(self, *, force: bool = False) -> None:
        """Read the circuit from the store if the cached one is older than POLL_S."""
        now = time.monotonic()
        if not force and now - self._checked_at < POLL_S:
            return
        if not self._refreshing.acquire(blocking=False):
            return
        try:
            self._checked_at = now
            circuit, not_before = self._read()
        finally:
            self._refreshing.release()
        self._seen(circuit, not_before)

    def _read(self) -> tuple[Circuit, float]:
        try:
            _, circuit = self.shared.read()
            not_before = self.shared.not_before()
            self.gate.store_answered()
            return circuit, not_before
        except StoreUnavailable as exc:
            self.gate.store_failed(exc)
            _, circuit = self.local.read()
            return circuit, self.local.not_before()

    def _seen(self, circuit: Circuit, not_before: float) -> None:
        with self.cond:
            before, self.circuit, self.not_before = self.circuit, circuit, not_before
            if before.is_open and not circuit.is_open:
                # Closed by another process's probe: drain from a low concurrency upward.
                self.limiter.aimd.restart()
                self.window.reset()
                self.cond.notify_all()
        if before.is_open != circuit.is_open:
            self.gate.observer_circuit(self.team, circuit)

    # --- admission ----------------------------------------------------------------------

    def admit(self, hold_s: float, clock: Callable[[], float] = time.time) -> Permit | float:
        """A permit to call, waiting up to ``hold_s``; or, once that is over, the seconds to defer by."""
        started = time.monotonic()
        deadline = started + hold_s
        while True:
            self.refresh()
            now_wall, now = clock(), time.monotonic()
            with self.cond:
                circuit = self.circuit
                took = not circuit.is_open and self.not_before <= now_wall and self.limiter.try_take()
            if took:
                permit = Permit(self, None, now - started)
                if self.bucket is not None and (delay := self.bucket.take()) > 0:
                    time.sleep(delay)  # the rate's pace: this call's turn, its slot held meanwhile
                return permit
            if circuit.is_open and now_wall >= circuit.retry_at and now - self._probe_tried_at >= POLL_S:
                self._probe_tried_at = now
                probe = self._try_probe(now_wall)
                if probe is not None:
                    with self.cond:
                        self.limiter.in_flight += 1
                    return Permit(self, probe, now - started)
            if now >= deadline:
                return self._defer_s(circuit, now_wall)
            with self.cond:
                wait = POLL_S
                if not circuit.is_open and self.not_before > now_wall:
                    wait = min(wait, self.not_before - now_wall)
                self.cond.wait(max(0.01, min(wait, deadline - now)))

    def _defer_s(self, circuit: Circuit, now_wall: float) -> float:
        if circuit.is_open:
            return max(1.0, circuit.retry_at - now_wall)
        return max(1.0, self.not_before - now_wall)

    def _try_probe(self, now_wall: float) -> Probe | None:
        try:
            return self.breaker().try_probe(now_wall)
        except StoreUnavailable as exc:
            self.gate.store_failed(exc)
            return self.local.try_probe(now_wall)

    # --- learning -----------------------------------------------------------------------

    def learn(self, exc: BaseException | None, probe: Probe | None) -> None:
        """Take in one call's outcome: grow, cut, open, or (a probe) close or reopen."""
        kind = kind_of(exc)
        if probe is not None:
            self._probe_done(probe, kind == "ok", exc)
            return
        if kind == "ok":
            with self.cond:
                self.window.record(True)
            if self.limiter.succeeded():
                self.gate.observer_limit(self.team, self.limiter.aimd.limit)
            return
        now = time.time()
        at_floor = self.limiter.at_floor()
        if kind in ("pushback", "throttled"):
            if self.limiter.cut():
                self.gate.observer_limit(self.team, self.limiter.aimd.limit)
            retry_after = exc.retry_after_s if isinstance(exc, ApiError) else None
            # Retry-After has whole seconds: "1" is its least answer, what a token bucket
            # says when its next token is milliseconds away. Holding the fleet a second
            # for each would stall it at every 429; the halved limit is the answer to
            # that, and a longer Retry-After holds every worker's calls to the team.
            if retry_after and retry_after > MIN_FLEET_HOLD_S:
                self._push_not_before(now + retry_after, now)
        if kind == "throttled" and not at_floor:
            return  # SendX is up and metering, not failing: the limit's job, not the breaker's
        with self.cond:
            trip = self.window.record(False)
        if trip:
            self._trip(now, "auth" if kind == "auth" else "transient", exc)

    def _trip(self, now: float, reason: str, exc: BaseException | None) -> None:
        try:
            opened = self.breaker().trip(now, reason=reason)
        except StoreUnavailable as err:
            self.gate.store_failed(err)
            opened = self.local.trip(now, reason=reason)
        with self.cond:
            self.window.reset()
        if opened is None:
            self.refresh(force=True)  # another process opened it first: read its circuit
            return
        logger.warning(
            "circuit opened",
            extra=context(
                team=self.team, reason=reason, probe_in_s=round(opened.retry_at - now, 1), error=str(exc)[:200]
            ),
        )
        self._seen(opened, self.not_before)

    def _probe_done(self, probe: Probe, ok: bool, exc: BaseException | None) -> None:
        now = time.time()
        breaker = self.local if self.gate.degraded else self.shared
        try:
            new = breaker.probe_done(probe, ok, now)
        except StoreUnavailable as err:
            self.gate.store_failed(err)
            new = None
        self.gate.observer_probe(self.team, "succeeded" if ok else "failed")
        if new is None:
            self.refresh(force=True)
            return
        if ok:
            opened_for = round(now - probe.circuit.since, 1)
            logger.warning("circuit closed", extra=context(team=self.team, open_s=opened_for))
        else:
            logger.warning(
                "circuit probe failed; stays open",
                extra=context(team=self.team, probe_in_s=round(new.retry_at - now, 1), error=str(exc)[:200]),
            )
        self._seen(new, self.not_before)

    def abandon(self, probe: Probe) -> None:
        """The probe's message made no call: free the half-open slot for another."""
        try:
            (self.local if self.gate.degraded else self.shared).abandon(probe)
        except StoreUnavailable as err:
            self.gate.store_failed(err)
        self._probe_tried_at = float("-inf")

    def _push_not_before(self, until: float, now: float) -> None:
        with self.cond:
            self.not_before = max(self.not_before, until)
        try:
            self.breaker().push_not_before(until, now)
        except StoreUnavailable as err:
            self.gate.store_failed(err)
