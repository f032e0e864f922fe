"""The gate: a contact's lease taken, waited for a little, or refused; moves followed."""

from __future__ import annotations

import threading

import pytest

from sendx_worker.ordering import Busy, Event, OrderingGate
from sendx_worker.state import Pending, contact_key
from sendx_worker.state.memory import MemoryStore


def event(stamp: int, email: str = "a@x.io", **payload: object) -> Event:
    return Event(id=f"e{stamp}", operation="identify", stamp=stamp, payload={"email": email, **payload})


def gate(store: MemoryStore, **options: float) -> OrderingGate:
    return OrderingGate(store, lease_s=60, keep_s=3600, **options)  # type: ignore[arg-type]


def test_a_held_contact_is_busy_for_another_delivery_after_a_short_wait() -> None:
    store = MemoryStore()
    waited: list[float] = []
    holder = gate(store).turn(None, event(1, firstName="A"), stamped=True)
    other = OrderingGate(store, lease_s=60, keep_s=3600, wait_s=0.05, on_wait=waited.append)
    with pytest.raises(Busy):
        other.turn(None, event(2, firstName="B"), stamped=True)
    assert len(waited) == 1 and waited[0] >= 0.05
    holder.applied()
    assert other.turn(None, event(2, firstName="B"), stamped=True).plan.verdict == "send"


def test_a_waiter_gets_the_contact_when_the_holder_finishes() -> None:
    store = MemoryStore()
    holder = gate(store).turn(None, event(1, firstName="A"), stamped=True)
    released = threading.Timer(0.05, holder.applied)
    released.start()
    turn = gate(store, wait_s=30).turn(None, event(2, firstName="B"), stamped=True)
    released.join()
    assert turn.state.fields == {"firstName": 1}


def test_a_release_in_the_same_process_hands_the_contact_over_without_the_pause() -> None:
    # Polls a minute apart: only the holder's wake-up can hand the contact over within the join's timeout.
    store = MemoryStore()
    shared = OrderingGate(store, lease_s=60, keep_s=3600, wait_s=600, poll_s=(60, 60))
    holder = shared.turn(None, event(1, firstName="A"), stamped=True)
    turns: list[object] = []
    waiter = threading.Thread(
        target=lambda: turns.append(shared.turn(None, event(2, firstName="B"), stamped=True)), daemon=True
    )
    waiter.start()
    while not shared._waiting:  # the waiter is in line, its next look a minute away
        threading.Event().wait(0.001)
    holder.applied()
    waiter.join(timeout=30)
    assert not waiter.is_alive(), "the waiter slept past the release"
    assert len(turns) == 1


def test_only_a_few_threads_wait_on_one_contact_the_rest_are_busy_at_once() -> None:
    store = MemoryStore()
    shared = gate(store, wait_s=30, max_waiters=1)
    holder = shared.turn(None, event(1), stamped=True)
    started = threading.Event()

    def wait_in_line() -> None:
        started.set()
        shared.turn(None, event(2), stamped=True).applied()

    waiter = threading.Thread(target=wait_in_line)
    waiter.start()
    started.wait()
    while not shared._waiting:  # the first waiter is in line
        threading.Event().wait(0.001)
    with pytest.raises(Busy):
        shared.turn(None, event(3), stamped=True)
    holder.applied()
    waiter.join(timeout=30)


def test_an_event_older_than_a_move_is_turned_at_the_new_address() -> None:
    store = MemoryStore()
    move = gate(store).turn(None, event(10, newEmail="b@x.io"), stamped=True)
    assert move.plan.verdict == "send"
    move.applied()
    late = gate(store).turn(None, event(5, firstName="Late"), stamped=True)
    assert late.event.email == "b@x.io" and late.plan.payload == {"email": "b@x.io", "firstName": "Late"}
    late.applied()
    moved = store.peek(contact_key(None, "b@x.io"))
    assert moved is not None and moved.fields == {"firstName": 5}


def test_a_waiting_event_leaves_a_dead_deliverys_mark_in_place() -> None:
    store = MemoryStore()
    key = contact_key(None, "a@x.io")
    # A move's delivery began and died: its mark stays, and older events wait for it.
    assert store.begin(key, "dead", lease_s=0, keep_s=3600, event="m", mark=Pending(10, "dead", to="b@x.io"))
    turn = gate(store).turn(None, event(5, firstName="Older"), stamped=True)
    assert turn.plan.verdict == "wait"
    turn.put_back()
    state = store.peek(key)
    assert state is not None and set(state.pending) == {"m"}


def test_an_unstamped_event_keeps_the_stamp_of_its_first_receipt() -> None:
    store = MemoryStore()
    received = event(100, firstName="A")
    first = gate(store).turn(None, received, stamped=False)
    first.release()  # its worker died before the outcome
    redelivered = Event(id=received.id, operation="identify", stamp=999, payload=received.payload)
    again = gate(store).turn(None, redelivered, stamped=False)
    assert again.event.stamp == 100 and again.earlier_unfinished
