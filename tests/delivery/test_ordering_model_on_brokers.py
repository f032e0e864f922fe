"""Model-based, on real brokers and stores: random contact histories, SendX faults, two worker
processes, one SIGKILLed mid-run; afterwards every contact in the emulator equals its events
applied in order, and every increment was applied once or set aside as ambiguous.

A seeded generator (the seed is in the test id, so a failure reruns exactly): each contact
is created, then gets a few identifies (properties, a custom field, tags, a uniquely sized
increment) and tracks (tag adds and removes), some ending with a move to a new address.
The emulator's script gives each address a few faults: 503 (nothing applied), 500 after
applying ("SendX did it but the answer was lost"), a dropped connection, a timeout.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from sendx_worker.emulator.sequence import TEAM, apply_in_order
from sendx_worker.stamps import format_stamp, stamp_now
from tests.delivery.conftest import Stack
from tests.support.brokers import isolated_broker
from tests.support.stores import isolated_state_url
from tests.support.waiting import wait_for

CONTACTS = 16
SEED = 20261128
TAGS = ["trial user", "paid user", "dev"]
FAULTS: list[Any] = [503, {"status": 500, "apply": True}, "reset", "timeout"]

# (broker, state store): None is the broker's default store (Redis: the broker's own Redis;
# the embedded broker: SQLite beside it). RabbitMQ has none: each store kind is tried there.
COMBINATIONS = [
    ("rabbitmq", "sqlite"),
    ("rabbitmq", "redis"),
    ("rabbitmq", "postgresql"),
    ("redis", None),
    ("filesystem", None),
]


def histories(rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, list[Any]]]:
    """(creates, events, fault script): each event is {"id", "task", "payload", "occurred_at", "stamp"}."""
    base = stamp_now() - 3_600_000_000  # an hour ago: in the past, like every real stamp
    clock = iter(range(base, base + 10**9))
    creates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    increment = 0
    for index in range(CONTACTS):
        email = f"m{index}@example.com"
        creates.append(_event("identify", {"email": email}, next(clock)))
        for _ in range(rng.randint(2, 6)):
            if rng.random() < 0.6:
                payload: dict[str, Any] = {"email": email}
                if rng.random() < 0.5:
                    payload["firstName"] = rng.choice(["Ada", "Bo", "Cy"])
                custom: dict[str, str] = {}
                if rng.random() < 0.5:
                    custom["Plan"] = rng.choice(["trial", "paid", "free"])
                if rng.random() < 0.4:
                    increment += 1
                    custom["Logins"] = f"++{increment}"
                if custom:
                    payload["customFields"] = custom
                tags = rng.sample(TAGS, rng.randint(0, 2))
                if tags:
                    payload["tags"] = tags
                events.append(_event("identify", payload, 0))
            else:
                added = rng.sample(TAGS, rng.randint(0, 2))
                removed = [t for t in rng.sample(TAGS, rng.randint(0, 2)) if t not in added] or (
                    [] if added else ["dev"]
                )
                payload = {"email": email, **({"addTags": added} if added else {}), "removeTags": removed}
                if not payload["removeTags"]:
                    del payload["removeTags"]
                events.append(_event("track", payload, 0))
        if rng.random() < 0.25:
            events.append(_event("identify", {"email": email, "newEmail": f"moved{index}@example.com"}, 0))
    # Interleave the contacts' events as an app would send them, keeping each contact's order.
    rng.shuffle(events)
    per_contact: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        per_contact.setdefault(event["payload"]["email"], []).append(event)
    for email, mine in per_contact.items():
        moves = [e for e in mine if "newEmail" in e["payload"]]
        others = [e for e in mine if "newEmail" not in e["payload"]]
        per_contact[email] = others + moves  # a move is its contact's last event
    ordered = [per_contact[e["payload"]["email"]].pop(0) for e in events]
    for event in ordered:
        event["stamp"] = next(clock)
        event["occurred_at"] = format_stamp(event["stamp"])
    script = {
        f"m{index}@example.com": [rng.choice(FAULTS) for _ in range(rng.randint(0, 3))] for index in range(CONTACTS)
    }
    return creates, ordered, script


def _event(task: str, payload: dict[str, Any], stamp: int) -> dict[str, Any]:
    return {"task": task, "payload": payload, "stamp": stamp, "occurred_at": format_stamp(stamp)}


@pytest.fixture(params=COMBINATIONS, ids=lambda combo: f"{combo[0]}-{combo[1] or 'default'}-store")
def ordered_stack(request: pytest.FixtureRequest, emulator: Any, tmp_path: Path) -> Iterator[Stack]:
    broker_kind, store_kind = request.param
    with ExitStack() as stack:
        broker = stack.enter_context(isolated_broker(broker_kind, tmp_path))
        built = Stack(broker, emulator, tmp_path)
        stack.callback(built.close)
        if store_kind is not None:
            built.env["SENDX_STATE_URL"] = stack.enter_context(isolated_state_url(store_kind, tmp_path))
        yield built


def _comparable(contact: dict[str, Any] | None) -> Any:
    if contact is None:
        return None
    custom = {k: v for k, v in contact["customFields"].items() if k != "Logins"}
    return (contact["firstName"], custom, sorted(contact["tags"]))


@pytest.mark.timeout(420)
def test_contacts_end_as_their_events_applied_in_order_through_faults_and_a_killed_worker(
    ordered_stack: Stack,
) -> None:
    stack = ordered_stack
    creates, events, script = histories(random.Random(SEED))
    stack.emulator.set_faults(latency_ms=20, slow_s=3)
    first = stack.start_worker(concurrency=8)
    stack.start_worker(concurrency=8)
    for event in creates:
        stack.send(f"sendx.{'identify_contact'}", payload=event["payload"], occurred_at=event["occurred_at"])
    wait_for(lambda: all(stack.emulator.contact(e["payload"]["email"]) for e in creates), timeout=120, what="contacts")

    stack.emulator.set_faults(script=script)
    for event in events:
        task = "sendx.identify_contact" if event["task"] == "identify" else "sendx.track_tags"
        stack.send(task, payload=event["payload"], occurred_at=event["occurred_at"])
    wait_for(lambda: len(stack.emulator.requests()) >= CONTACTS + len(events) // 3, what="a third delivered")
    first.kill()

    model = apply_in_order((e["task"], e["payload"]) for e in [*creates, *events])
    emails = {e["payload"]["email"] for e in events} | {
        e["payload"]["newEmail"] for e in events if "newEmail" in e["payload"]
    }
    increments = {
        e["payload"]["customFields"]["Logins"]: e for e in events if "Logins" in e["payload"].get("customFields", {})
    }

    def applied_increments() -> Counter[str]:
        counted: Counter[str] = Counter()
        for request in stack.emulator.requests():
            logins = ((request.get("body") or {}).get("customFields") or {}).get("Logins")
            if request.get("applied") and logins in increments:
                counted[logins] += 1
        return counted

    def set_aside() -> set[str]:
        return {
            record.payload["customFields"]["Logins"]
            for record in stack.dead_letters()
            if record.reason == "ambiguous_increment"
        }

    def settled() -> bool:
        for email in emails:
            if _comparable(stack.emulator.contact(email)) != _comparable(model.get(TEAM, email)):
                return False
        applied = applied_increments()
        aside = set_aside() if any(not applied[k] for k in increments) else set()
        return all(applied[k] or k in aside for k in increments)

    try:
        wait_for(settled, timeout=300, interval=1.0, what="every contact as its events applied in order")
    except AssertionError:
        diff = {
            email: (_comparable(stack.emulator.contact(email)), _comparable(model.get(TEAM, email)))
            for email in sorted(emails)
            if _comparable(stack.emulator.contact(email)) != _comparable(model.get(TEAM, email))
        }
        raise AssertionError(f"contacts differ (emulator, model): {diff}") from None

    applied = applied_increments()
    assert all(count == 1 for count in applied.values()), f"an increment applied twice: {applied}"
    records = stack.dead_letters()
    assert {r.reason for r in records} <= {"ambiguous_increment"}, [(r.reason, r.error) for r in records]
    for email in emails:
        logins = (stack.emulator.contact(email) or {}).get("customFields", {}).get("Logins")
        expected = sum(int(k[2:]) for k, e in increments.items() if applied[k] and _ends_at(e, events) == email)
        assert int(logins or 0) == expected, email


def _ends_at(event: dict[str, Any], events: list[dict[str, Any]]) -> str:
    email = str(event["payload"]["email"])
    for later in events:
        moved = later["payload"].get("newEmail")
        if moved and later["payload"]["email"] == email and later["stamp"] > event["stamp"]:
            email = str(moved)
    return email
