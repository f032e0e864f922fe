"""Model-based: whatever the delivery order, faults and redeliveries, each contact ends as its
events applied in the order they happened, and every increment is applied once or set aside.

Pure and fast: SendX is the emulator's own store (the same merge rules), the state store
is in memory with a clock the test moves, and hypothesis chooses the events, which message
a worker takes next, and what goes wrong with each call. The orchestration around the
gate is the one :mod:`sendx_worker.tasks.ordered` performs with Celery; the real-broker
version of this test (tests/delivery/test_ordering_on_brokers.py) runs the real thing.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from sendx_worker.emulator.sequence import TEAM, apply_in_order
from sendx_worker.emulator.store import ContactStore
from sendx_worker.emulator.wire import Rejection, parse_identify, parse_track
from sendx_worker.ordering import Busy, Event, OrderingGate
from sendx_worker.state.memory import MemoryStore

TAGS = ["trial", "paid", "dev"]
LEASE_S = 10.0
Fault = Literal["ok", "fail", "apply_then_fail", "crash_after_call", "crash_after_record"]
FAULTS: list[Fault] = ["ok", "fail", "apply_then_fail", "crash_after_call", "crash_after_record"]


@st.composite
def histories(draw: Any) -> list[Event]:
    """Events of 1-3 contacts, each opening with an identify, some ending with a move."""
    events: list[Event] = []
    stamp = 1000
    for index in range(draw(st.integers(1, 3))):
        email = f"c{index}@x.io"
        for position in range(draw(st.integers(1, 5))):
            stamp += draw(st.integers(1, 3))
            payload: dict[str, Any] = {"email": email}
            if position == 0 or draw(st.booleans()):
                if draw(st.booleans()):
                    payload["firstName"] = draw(st.sampled_from(["Ada", "Bo", "Cy"]))
                custom = {}
                if draw(st.booleans()):
                    custom["Plan"] = draw(st.sampled_from(["trial", "paid", "free"]))
                if draw(st.booleans()):
                    custom["Logins"] = f"++{draw(st.integers(1, 9))}"
                if custom:
                    payload["customFields"] = custom
                tags = draw(st.lists(st.sampled_from(TAGS), max_size=2, unique=True))
                if tags:
                    payload["tags"] = tags
                events.append(Event(id=f"e{stamp}", operation="identify", stamp=stamp, payload=payload))
            else:
                added = draw(st.lists(st.sampled_from(TAGS), max_size=2, unique=True))
                removed = draw(st.lists(st.sampled_from([t for t in TAGS if t not in added]), max_size=2, unique=True))
                if not added and not removed:
                    added = ["dev"]
                payload.update({"addTags": added} if added else {})
                payload.update({"removeTags": removed} if removed else {})
                events.append(Event(id=f"e{stamp}", operation="track", stamp=stamp, payload=payload))
        if draw(st.booleans()):
            stamp += 1
            moved = {"email": email, "newEmail": f"moved{index}@x.io", "company": "Moved Inc"}
            events.append(Event(id=f"e{stamp}", operation="identify", stamp=stamp, payload=moved))
    return events


@dataclass
class World:
    """SendX, the state store, a worker's gate, and the queue between them."""

    clock: float = 0.0

    def __post_init__(self) -> None:
        self.sendx = ContactStore()
        self.store = MemoryStore(clock=lambda: self.clock)
        self.gate = OrderingGate(self.store, lease_s=LEASE_S, keep_s=10**7, wait_s=0, max_waiters=0)
        self.queue: list[Event] = []
        self.aside: set[str] = set()
        self.applied: Counter[str] = Counter()
        self.conflicts: list[str] = []
        self.rejected: list[str] = []

    def call(self, event: Event, payload: dict[str, Any]) -> int:
        """SendX applies ``payload``: 200, or the status it refuses it with (404: a track before its identify)."""
        try:
            if event.operation == "identify":
                self.sendx.identify(TEAM, parse_identify(payload, "v1"))
            else:
                body = {k: v for k, v in payload.items() if k != "email"}
                self.sendx.track(TEAM, parse_track(body, "v1", payload["email"]))
        except Rejection as refused:
            return refused.status
        if any(str(v).startswith("++") for v in (payload.get("customFields") or {}).values()):
            self.applied[event.id] += 1
        return 200

    def deliver(self, event: Event, fault: Fault) -> None:
        """One delivery of ``event``, as ordered.py performs it, with ``fault`` befalling the call."""
        try:
            turn = self.gate.turn(None, event, stamped=True)
        except Busy:
            self.queue.append(event)  # deferred
            return
        verdict = turn.plan.verdict
        if verdict in ("duplicate", "superseded"):
            turn.done_without_call()
            return
        if verdict == "conflict":
            self.conflicts.append(event.id)
            turn.done_without_call()
            return
        if verdict == "wait":
            turn.put_back()
            self.queue.append(event)  # deferred until the move in doubt is settled
            return
        if turn.earlier_unfinished and turn.plan.increments:
            self.aside.add(event.id)
            turn.without_increments()
            event = _without_increments(event)
        payload = dict(turn.plan.payload)
        if fault == "fail":
            turn.failed(may_have_reached=False)
            self.queue.append(event)
        elif fault == "apply_then_fail":
            reached = self.call(event, payload) == 200
            turn.failed(may_have_reached=True)
            if turn.plan.increments and reached:
                self.aside.add(event.id)  # the retry goes without them (RetryPolicy split)
                event = _without_increments(event)
            self.queue.append(event)
        elif fault == "crash_after_call":
            self.call(event, payload)
            self.clock += LEASE_S + 1  # the worker is gone; its lease lapses
            self.queue.append(event)  # redelivered
        else:
            status = self.call(event, payload)
            if status == 404:
                turn.failed(may_have_reached=False, refused=True)
                self.queue.append(event)  # a track before its identify: retried
                return
            if status != 200:
                # Dead-lettered as rejected: a move sent again after a delivery that
                # applied it and died before recording it finds its new address taken.
                turn.failed(may_have_reached=False, refused=True)
                self.rejected.append(event.id)
                return
            turn.applied()
            if fault == "crash_after_record":
                self.queue.append(event)  # the acknowledgement was lost: redelivered


def _without_increments(event: Event) -> Event:
    custom = {k: v for k, v in (event.payload.get("customFields") or {}).items() if not v.startswith("++")}
    payload = {k: v for k, v in event.payload.items() if k != "customFields"}
    if custom:
        payload["customFields"] = custom
    return replace(event, payload=payload)


def _comparable(contact: dict[str, Any] | None) -> Any:
    if contact is None:
        return None
    custom = {k: v for k, v in contact["customFields"].items() if k != "Logins"}
    return (contact["firstName"], contact["company"], custom, sorted(contact["tags"]))


@settings(max_examples=int(os.environ.get("SENDX_MODEL_EXAMPLES", "300")))
@given(events=histories(), data=st.data())
def test_every_contact_ends_as_its_events_applied_in_order(events: list[Event], data: st.DataObject) -> None:
    world = World()
    world.queue = list(events)
    steps = 0
    while world.queue:
        steps += 1
        assert steps < 2000, "the queue never drained"
        chaos = steps < 60
        index = data.draw(st.integers(0, len(world.queue) - 1)) if chaos else 0
        fault = data.draw(st.sampled_from(FAULTS)) if chaos else "ok"
        world.deliver(world.queue.pop(index), fault)

    assert world.conflicts == []  # moves come last in these histories: nothing to conflict with
    assert all("newEmail" in e.payload for e in events if e.id in world.rejected)
    model = apply_in_order((e.operation, e.payload) for e in events)
    emails = {e.email for e in events} | {str(e.payload["newEmail"]) for e in events if "newEmail" in e.payload}
    for email in sorted(emails):
        assert _comparable(world.sendx.get(TEAM, email)) == _comparable(model.get(TEAM, email)), email

    for event in events:
        increments = [v for v in (event.payload.get("customFields") or {}).values() if v.startswith("++")]
        if not increments:
            continue
        times = world.applied[event.id]
        assert times <= 1, f"{event.id}'s increment applied {times} times"
        assert times == 1 or event.id in world.aside, f"{event.id}'s increment was lost"
    for email in sorted(emails):
        contact = world.sendx.get(TEAM, email)
        logins = (contact or {}).get("customFields", {}).get("Logins")
        expected = sum(
            Decimal(v[2:])
            for e in events
            for k, v in (e.payload.get("customFields") or {}).items()
            if k == "Logins" and world.applied[e.id] and _ends_at(e, events) == email
        )
        assert Decimal(logins or 0) == expected, email


def _ends_at(event: Event, events: list[Event]) -> str:
    """The address ``event``'s contact has at the end (after any move)."""
    email = event.email
    for later in events:
        if later.email == email and "newEmail" in later.payload and later.stamp > event.stamp:
            email = str(later.payload["newEmail"])
    return email


def test_the_model_of_sendx_applies_in_order() -> None:
    store = apply_in_order(
        [
            ("identify", {"email": "y@x.io", "customFields": {"Plan": "trial"}}),
            ("track", {"email": "y@x.io", "addTags": ["trial user"]}),
            ("track", {"email": "y@x.io", "addTags": ["paid user"], "removeTags": ["trial user"]}),
            ("identify", {"email": "y@x.io", "customFields": {"Plan": "paid"}}),
        ],
        store=ContactStore(),
    )
    contact = store.get(TEAM, "y@x.io")
    assert contact is not None
    assert contact["tags"] == ["paid user"] and contact["customFields"] == {"Plan": "paid"}
