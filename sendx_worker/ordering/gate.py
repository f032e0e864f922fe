"""A contact's turn: its lease taken, its entry read and planned against, its outcome recorded.

One :class:`OrderingGate` per worker process. A delivery asks it for a :class:`Turn`
on its event's contact; the turn holds the contact's lease in the state store while
the worker calls SendX, so two deliveries of one contact never call at once, and the
entry it reads is the truth until it writes it back.

Contention is expected (a burst of updates to one contact): a delivery that finds the
lease taken waits a little in the hope the holder's call ends soon, but only a few
threads of a process wait on one contact at a time; the others, and a waiter whose
wait runs out, get :class:`Busy`, and the delivery goes back to the queue for a
moment without spending an attempt (:mod:`sendx_worker.tasks.defer`). A waiter polls
the store with a growing pause (a holder in another process says nothing when it
ends), but a holder in the same process wakes its waiters as it releases: a burst
for one contact goes from call to call without the pause.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from types import TracebackType

from ..stamps import stamp_now
from ..state import ContactState, Pending, StateStore, contact_key
from .plan import Event, Plan, after_maybe_applied, after_success, after_superseded, merged_for_move, moved_away, plan

__all__ = ["LEASE_WAIT_S", "MAX_HOPS", "MAX_WAITERS", "Busy", "OrderingGate", "Turn"]

#: How long a delivery waits for a contact's lease before going back to the queue: a
#: typical call takes tens of milliseconds, so this covers a short burst.
LEASE_WAIT_S = 1.0
#: How many threads of one process wait on one contact at a time; the rest go back to
#: the queue at once instead of holding threads that other contacts could use. Eight
#: of the default 64: a local holder hands over at once, so they turn over at the pace
#: of SendX's answers (``python -m bench burst``: a burst of 100 drains in ~7 s, not ~12
#: as with two waiters).
MAX_WAITERS = 8
#: How many moves a redirect follows before giving up (a chain a -> b -> c ...).
MAX_HOPS = 8
#: A waiter's pause between looks at the store: the first, and the longest it grows to.
POLL_S = (0.005, 0.05)


class Busy(Exception):
    """Raised when another delivery holds the contact's lease (after waiting, or at once)."""


class OrderingGate:
    """Hands out :class:`Turn` objects on contacts, for one worker process."""

    def __init__(
        self,
        store: StateStore,
        *,
        lease_s: float,
        keep_s: float,
        wait_s: float = LEASE_WAIT_S,
        max_waiters: int = MAX_WAITERS,
        doubt_s: float | None = None,
        on_wait: Callable[[float], None] | None = None,
        poll_s: tuple[float, float] = POLL_S,
    ) -> None:
        self.store = store
        self.lease_s = lease_s
        self.keep_s = keep_s
        self.wait_s = wait_s
        self.max_waiters = max_waiters
        self.doubt_s = doubt_s
        self._on_wait = on_wait
        self._poll_s = poll_s
        self._waiting: Counter[str] = Counter()
        # A turn's lease owner: this gate's 48 random bits, then its own count of turns,
        # unique across the fleet without asking the OS for randomness on every delivery.
        self._owners = os.urandom(6).hex()
        self._turns = itertools.count()
        self._lock = threading.Lock()
        # Signalled whenever this process ends a lease; ``_releases`` counts them, so
        # that a waiter which looked at the store before a release does not sleep past it.
        self._released = threading.Condition(self._lock)
        self._releases = 0

    def turn(self, team: str | None, event: Event, *, stamped: bool) -> Turn:
        """A turn on ``event``'s contact (after following moves): the lease is held until it ends.

        ``stamped`` False: the event carried no stamp; its first delivery's receipt
        (``event.stamp`` then, kept in the entry's pending mark) stands in.
        Raises :class:`Busy`, or StoreUnavailable from the store.
        """
        owner = f"{self._owners}{next(self._turns):x}"
        for _ in range(MAX_HOPS):
            key = contact_key(team, event.email)
            state = self._begin(key, owner, event)
            mark = state.pending.get(event.id)
            if mark is not None and not stamped:
                event = Event(id=event.id, operation=event.operation, stamp=mark.stamp, payload=event.payload)
            decided = plan(event, state, doubt_until=self.doubt_until())
            if decided.verdict != "redirect" or decided.to is None:
                turn = Turn(self, team, event, key, owner, state, decided)
                if decided.verdict == "send" and event.new_email is not None:
                    turn.join_new_address()
                return turn
            # The contact left this address after the event happened: follow it.
            self._finish(key, owner, _without_own_mark(state, event, owner))
            event = event.at(decided.to)
        raise Busy(f"more than {MAX_HOPS} moves to follow")

    def doubt_until(self) -> int | None:
        """The stamp before which a move in doubt no longer holds events (see :func:`.plan.plan`)."""
        return None if self.doubt_s is None else stamp_now() - int(self.doubt_s * 1_000_000)

    def _begin(self, key: str, owner: str, event: Event) -> ContactState:
        mark = Pending(stamp=event.stamp, owner=owner, to=event.new_email)
        seen = self._releases
        state = self.store.begin(key, owner, lease_s=self.lease_s, keep_s=self.keep_s, event=event.id, mark=mark)
        if state is not None:
            return state
        with self._lock:
            if self._waiting[key] >= self.max_waiters:
                raise Busy("the contact is being delivered by another worker")
            self._waiting[key] += 1
        started = time.monotonic()
        delay, longest = self._poll_s
        try:
            while state is None:
                left = self.wait_s - (time.monotonic() - started)
                if left <= 0:
                    raise Busy("the contact is being delivered by another worker")
                with self._released:
                    if self._releases == seen:  # nothing ended here since the last look
                        self._released.wait(min(delay, left))
                    seen = self._releases
                delay = min(delay * 2, longest)
                state = self.store.begin(
                    key, owner, lease_s=self.lease_s, keep_s=self.keep_s, event=event.id, mark=mark
                )
            return state
        finally:
            with self._lock:
                self._waiting[key] -= 1
                if not self._waiting[key]:
                    del self._waiting[key]
            if self._on_wait is not None:
                self._on_wait(time.monotonic() - started)

    def _finish(self, key: str, owner: str, state: ContactState) -> bool:
        try:
            return self.store.finish(key, owner, state, keep_s=self.keep_s)
        finally:
            if self._waiting:  # read without the lock: a waiter that just came looks at the store itself
                with self._released:
                    self._releases += 1
                    self._released.notify_all()


class Turn:
    """The lease on one contact (two, for a move) and the plan for one event."""

    def __init__(
        self,
        gate: OrderingGate,
        team: str | None,
        event: Event,
        key: str,
        owner: str,
        state: ContactState,
        decided: Plan,
    ) -> None:
        self._gate = gate
        self._team = team
        self.event = event
        self._key = key
        self._owner = owner
        self.state = state
        self.plan = decided
        self._new: tuple[str, ContactState] | None = None
        self._ended = False

    @property
    def earlier_unfinished(self) -> bool:
        """True when an earlier delivery of this event began (and may have called SendX) and never finished."""
        mark = self.state.pending.get(self.event.id)
        return mark is not None and mark.owner != self._owner

    def join_new_address(self) -> None:
        """For a move: take the new address's lease too, and plan against both entries."""
        assert self.event.new_email is not None
        key = contact_key(self._team, self.event.new_email)
        try:
            new_state = self._gate._begin(key, self._owner, self.event)
        except BaseException:
            self.release()
            raise
        self._new = (key, new_state)
        self.plan = plan(self.event, merged_for_move(self.state, new_state), doubt_until=self._gate.doubt_until())

    def without_increments(self) -> None:
        """Send the plan without its ``++``/``--`` fields (they were set aside for a person)."""
        custom = {
            k: v for k, v in (self.plan.payload.get("customFields") or {}).items() if k not in self.plan.increments
        }
        payload = {k: v for k, v in self.plan.payload.items() if k != "customFields"}
        if custom:
            payload["customFields"] = custom
        self.plan = Plan(
            self.plan.verdict,
            payload=payload,
            fields=self.plan.fields,
            tags=self.plan.tags,
            superseded=self.plan.superseded,
        )

    def applied(self) -> None:
        """SendX applied the plan: record its stamps, mark the event done, release."""
        now_s = int(time.time())
        if self._new is not None:
            new_key, new_state = self._new
            merged = merged_for_move(self.state, new_state)
            self._end(new_key, after_success(merged, self.event, self.plan, now_s))
            self._end(self._key, moved_away(self.state, self.event, now_s))
        else:
            self._end(self._key, after_success(self.state, self.event, self.plan, now_s))

    def put_back(self) -> None:
        """Nothing was sent and the event is not done (it waits): clear its mark, release."""
        self._end_new(lambda state: _without_own_mark(state, self.event, self._owner))
        self._end(self._key, _without_own_mark(self.state, self.event, self._owner))

    def done_without_call(self) -> None:
        """Nothing was (or will be) sent for this event: mark it done, release."""
        now_s = int(time.time())
        self._end_new(lambda state: after_superseded(state, self.event, now_s))
        self._end(self._key, after_superseded(self.state, self.event, now_s))

    def failed(self, *, may_have_reached: bool, refused: bool = False) -> None:
        """The call failed: keep what it may have applied, clear the mark, release (the event is not done).

        ``refused``: SendX answered with a refusal (4xx), so the request changed nothing.
        """
        outcome = {
            "may_have_reached": may_have_reached,
            "refused": refused,
            "earlier_unfinished": self.earlier_unfinished,
        }
        self._end_new(lambda state: after_maybe_applied(state, self.event, self.plan, **outcome))
        self._end(self._key, after_maybe_applied(self.state, self.event, self.plan, **outcome))

    def release(self) -> None:
        """End the turn without an outcome: the pending mark stays (a redelivery will know), the lease goes."""
        if self._new is not None:
            new_key, new_state = self._new
            self._gate._finish(new_key, self._owner, new_state)
            self._new = None
        if not self._ended:
            self._ended = True
            self._gate._finish(self._key, self._owner, self.state)

    def __enter__(self) -> Turn:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if not self._ended:
            self.release()

    def _end_new(self, after: Callable[[ContactState], ContactState]) -> None:
        if self._new is not None:
            new_key, new_state = self._new
            self._gate._finish(new_key, self._owner, after(new_state))
            self._new = None

    def _end(self, key: str, state: ContactState) -> None:
        if key == self._key:
            self._ended = True
        else:
            self._new = None
        # A lease lost meanwhile (it lapsed and another delivery took it) leaves the
        # entry as that delivery writes it; finish() then writes nothing.
        self._gate._finish(key, self._owner, state)


def _without_own_mark(state: ContactState, event: Event, owner: str) -> ContactState:
    # A mark another delivery left (it died) stays: the next turn of the event must see it.
    after = state.copy()
    mark = after.pending.get(event.id)
    if mark is not None and mark.owner == owner:
        del after.pending[event.id]
    return after
