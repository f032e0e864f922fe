"""What every state store backend promises, run against each (memory, SQLite, Redis, PostgreSQL)."""

from __future__ import annotations

import threading
import uuid

from sendx_worker.state import ContactState, Move, Pending, StateStore, contact_key
from tests.support.waiting import wait_for

LONG = 60.0
KEEP = 3600.0


def _begin(store: StateStore, key: str, owner: str, *, event: str = "e1", stamp: int = 100, lease_s: float = LONG):
    mark = Pending(stamp=stamp, owner=owner, to="new@x.io" if event == "move" else None)
    return store.begin(key, owner, lease_s=lease_s, keep_s=KEEP, event=event, mark=mark)


def test_a_new_contact_begins_empty_with_the_event_marked_pending(store: StateStore) -> None:
    state = _begin(store, "k", "owner-a", event="e1", stamp=123)
    assert state is not None
    assert state.fields == {} and state.tags == {} and state.done == {}
    assert state.pending == {"e1": Pending(stamp=123, owner="owner-a")}


def test_a_move_marks_its_new_address(store: StateStore) -> None:
    state = _begin(store, "k", "owner-a", event="move", stamp=7)
    assert state is not None and state.pending == {"move": Pending(stamp=7, owner="owner-a", to="new@x.io")}


def test_another_owner_cannot_begin_while_the_lease_runs(store: StateStore) -> None:
    assert _begin(store, "k", "owner-a") is not None
    assert _begin(store, "k", "owner-b", event="e2") is None
    # The holder may begin again (a retry within its lease).
    assert _begin(store, "k", "owner-a") is not None


def test_finish_writes_the_entry_and_frees_the_lease(store: StateStore) -> None:
    assert _begin(store, "k", "owner-a") is not None
    written = ContactState(
        fields={"firstName": 5, "c:Plan": 7}, tags={"paid user": 9}, done={"e1": 1000}, moved=Move("n@x.io", 11)
    )
    assert store.finish("k", "owner-a", written, keep_s=KEEP)
    state = _begin(store, "k", "owner-b", event="e2", stamp=200)
    assert state is not None
    assert state.fields == written.fields and state.tags == written.tags
    assert state.done == written.done and state.moved == written.moved
    assert state.pending == {"e2": Pending(200, "owner-b")}
    assert store.peek("k") == state


def test_only_the_lease_holder_can_finish(store: StateStore) -> None:
    assert _begin(store, "k", "owner-a") is not None
    assert not store.finish("k", "owner-b", ContactState(fields={"x": 1}), keep_s=KEEP)
    peeked = store.peek("k")
    assert peeked is not None and peeked.fields == {}
    assert not store.finish("never-begun", "owner-b", ContactState(fields={"x": 1}), keep_s=KEEP)
    assert store.peek("never-begun") is None


def test_a_lapsed_lease_is_taken_over_and_the_earlier_mark_is_kept(store: StateStore) -> None:
    assert _begin(store, "k", "owner-a", event="e1", stamp=100, lease_s=0.3) is not None
    # owner-a "dies": its lease lapses, and the next delivery of e1 sees its mark.
    state = wait_for(lambda: _begin(store, "k", "owner-b", event="e1", stamp=999), timeout=30, what="lease lapse")
    assert state.pending["e1"] == Pending(stamp=100, owner="owner-a")
    # owner-a, back from the dead, cannot overwrite owner-b's work.
    assert not store.finish("k", "owner-a", ContactState(fields={"late": 1}), keep_s=KEEP)
    assert store.finish("k", "owner-b", ContactState(fields={"f": 2}), keep_s=KEEP)


def test_an_entry_is_forgotten_after_its_keep_time(store: StateStore) -> None:
    assert _begin(store, "k", "owner-a") is not None
    assert store.finish("k", "owner-a", ContactState(fields={"f": 1}), keep_s=0.3)
    wait_for(lambda: store.peek("k") is None, timeout=30, what="expiry")
    state = _begin(store, "k", "owner-b", event="e2")
    assert state is not None and state.fields == {}
    store.purge_expired()


def test_contact_keys_of_teams_and_addresses_never_collide() -> None:
    assert contact_key("a", "b:c@x.io") != contact_key("a:b", "c@x.io")
    assert contact_key(None, "a@x.io") == contact_key("", "a@x.io")


def test_strange_names_survive_the_round_trip(store: StateStore) -> None:
    names = ["", " ", "a:b", "ünï'\"cödé", "L", "X", "p:x", "%(x)s", "$.a[0]", "x" * 255]
    assert _begin(store, "k", "o") is not None
    written = ContactState(
        fields={f"c:{n}": i for i, n in enumerate(names) if n}, tags={n: i for i, n in enumerate(names) if n}
    )
    assert store.finish("k", "o", written, keep_s=KEEP)
    peeked = store.peek("k")
    assert peeked is not None and peeked.fields == written.fields and peeked.tags == written.tags


def test_a_big_entry_round_trips(store: StateStore) -> None:
    assert _begin(store, "k", "o") is not None
    written = ContactState(tags={f"tag {i}": i for i in range(3000)}, fields={f"c:{i}": i for i in range(500)})
    assert store.finish("k", "o", written, keep_s=KEEP)
    assert store.peek("k") == written


def test_leases_serialise_concurrent_read_modify_writes(store: StateStore) -> None:
    # Each of 8 threads adds 25 increments under the lease; none may be lost.
    def worker() -> None:
        owner = uuid.uuid4().hex
        done = 0
        while done < 25:
            state = _begin(store, "counter", owner, event=uuid.uuid4().hex)
            if state is None:
                continue
            state.fields["n"] = state.fields.get("n", 0) + 1
            state.pending.clear()
            assert store.finish("counter", owner, state, keep_s=KEEP)
            done += 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert store.peek("counter") == ContactState(fields={"n": 200})


# --- values ------------------------------------------------------------------------------


def test_compare_and_set_from_absent_then_from_a_value(store: StateStore) -> None:
    assert store.get("v") is None
    assert store.compare_and_set("v", None, "one")
    assert not store.compare_and_set("v", None, "two")
    assert not store.compare_and_set("v", "wrong", "two")
    assert store.compare_and_set("v", "one", "two")
    assert store.get("v") == "two"
    store.delete("v")
    assert store.get("v") is None


def test_a_value_with_a_ttl_expires(store: StateStore) -> None:
    assert store.compare_and_set("v", None, "x", ttl_s=0.3)
    wait_for(lambda: store.get("v") is None, timeout=30, what="value expiry")
    assert store.compare_and_set("v", None, "y")


def test_incr_counts_and_restarts_its_expiry(store: StateStore) -> None:
    assert store.incr("n") == 1
    assert store.incr("n", 5) == 6
    assert store.incr("n", -2) == 4
    assert store.incr("t", ttl_s=0.3) == 1
    wait_for(lambda: store.get("t") is None, timeout=30, what="counter expiry")
    assert store.incr("t") == 1


def test_a_lease_value_is_exclusive_until_released_or_lapsed(store: StateStore) -> None:
    assert store.acquire("probe", "a", ttl_s=LONG)
    assert not store.acquire("probe", "b", ttl_s=LONG)
    assert store.acquire("probe", "a", ttl_s=LONG)
    assert not store.release("probe", "b")
    assert store.release("probe", "a")
    assert store.acquire("probe", "b", ttl_s=0.3)
    wait_for(lambda: store.acquire("probe", "c", ttl_s=LONG), timeout=30, what="lease lapse")
    assert not store.release("probe", "b")


def test_exactly_one_of_many_racing_threads_takes_a_lease(store: StateStore) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(16)

    def race(name: str) -> None:
        barrier.wait()
        if store.acquire("slot", name, ttl_s=LONG):
            winners.append(name)

    threads = [threading.Thread(target=race, args=(f"t{i}",)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(winners) == 1


def test_the_store_answers_ping(store: StateStore) -> None:
    store.ping()
