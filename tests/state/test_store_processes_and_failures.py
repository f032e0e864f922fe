"""The state store across processes, as a model (hypothesis), and when its server is gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from sendx_worker.errors import StoreUnavailable
from sendx_worker.state import ContactState, StateStore, open_store
from tests.support.stores import isolated_state_url


@pytest.mark.parametrize("kind", ["sqlite", "redis", "postgresql"])
def test_leases_serialise_read_modify_writes_across_processes(kind: str, tmp_path: Path) -> None:
    with isolated_state_url(kind, tmp_path) as url:
        processes = [
            subprocess.Popen([sys.executable, "-m", "tests.support.store_counter", url, "40"]) for _ in range(3)
        ]
        for process in processes:
            assert process.wait(timeout=180) == 0
        store = open_store(url)
        try:
            assert store.peek("counter") == ContactState(fields={"n": 120})
        finally:
            store.close()


def test_an_unreachable_redis_is_store_unavailable_naming_it_without_its_password() -> None:
    store = open_store("redis://:s3cret@127.0.0.1:1/0")
    with pytest.raises(StoreUnavailable) as caught:
        store.get("x")
    assert "127.0.0.1:1" in str(caught.value) and "s3cret" not in str(caught.value)


def test_an_unreachable_postgresql_is_store_unavailable_naming_it_without_its_password() -> None:
    with pytest.raises(StoreUnavailable) as caught:
        open_store("postgresql://postgres:s3cret@127.0.0.1:1/test?connect_timeout=1")
    assert "127.0.0.1:1" in str(caught.value) and "s3cret" not in str(caught.value)


def test_an_unusable_sqlite_file_is_store_unavailable(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(StoreUnavailable, match="taken"):
        open_store(f"sqlite:///{tmp_path / 'taken'}")


KEYS = st.sampled_from(["a", "b", "c"])
VALUES = st.sampled_from(["1", "2", "x", "owner-1", "owner-2"])


class ValuesModel(RuleBasedStateMachine):
    """The value operations of a store behave like a dict (no expiry involved)."""

    store: StateStore

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, str] = {}

    @initialize()
    def clean(self) -> None:
        for key in ("a", "b", "c"):
            self.store.delete(key)

    @rule(key=KEYS, expected=st.none() | VALUES, new=VALUES)
    def compare_and_set(self, key: str, expected: str | None, new: str) -> None:
        should = self.model.get(key) == expected
        assert self.store.compare_and_set(key, expected, new) == should
        if should:
            self.model[key] = new

    @rule(key=KEYS, by=st.integers(-3, 3))
    def incr(self, key: str, by: int) -> None:
        current = self.model.get(key, "0")
        if not current.lstrip("-").isdigit():
            return
        total = self.store.incr(key, by)
        assert total == int(current) + by
        self.model[key] = str(total)

    @rule(key=KEYS, owner=st.sampled_from(["owner-1", "owner-2"]))
    def acquire(self, key: str, owner: str) -> None:
        should = self.model.get(key) in (None, owner)
        assert self.store.acquire(key, owner, ttl_s=600) == should
        if should:
            self.model[key] = owner

    @rule(key=KEYS, owner=st.sampled_from(["owner-1", "owner-2"]))
    def release(self, key: str, owner: str) -> None:
        should = self.model.get(key) == owner
        assert self.store.release(key, owner) == should
        if should:
            del self.model[key]

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        self.store.delete(key)
        self.model.pop(key, None)

    @invariant()
    def values_agree(self) -> None:
        for key in ("a", "b", "c"):
            assert self.store.get(key) == self.model.get(key)


def test_values_behave_like_a_dict(store: StateStore) -> None:
    # A subclass per store: the machine reaches the store as a class attribute.
    machine = type("StoreValuesModel", (ValuesModel,), {"store": store})
    settings(max_examples=25, stateful_step_count=30)(machine)
    machine.TestCase().runTest()
