"""The Redis store's one-round-trip script calls: what redis-py did for them, they still do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from sendx_worker.state import Pending
from sendx_worker.state.redis import RedisStore
from sendx_worker.state.redis_calls import ScriptCaller, pack
from tests.support.brokers import redis_database

ECHO = "return {KEYS[1], ARGV[1], ARGV[2]}"


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    with redis_database() as broker:
        opened = redis.Redis.from_url(broker.url)
        try:
            yield opened
        finally:
            opened.close()


@given(st.lists(st.one_of(st.text(), st.binary(), st.integers()), min_size=1, max_size=5))
def test_a_command_is_packed_as_resp_bulk_strings(parts: list[object]) -> None:
    encoded = [p if isinstance(p, bytes) else str(p).encode() for p in parts]
    expected = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(e), e) for e in encoded)
    assert pack(*parts) == expected


def test_a_script_the_server_does_not_know_is_sent_whole_then_known(client: redis.Redis) -> None:
    client.script_flush()
    call = ScriptCaller(client, ECHO)
    assert call(["k é"], ["a", 7]) == [b"k \xc3\xa9", b"a", b"7"]
    assert client.script_exists(call._sha) == [True]
    assert call(["k"], ["b", 8]) == [b"k", b"b", b"8"]


def test_a_connection_the_server_closed_is_replaced_and_the_call_made_once_more(client: redis.Redis) -> None:
    call = ScriptCaller(client, ECHO)
    assert call(["k"], ["a", 1]) == [b"k", b"a", b"1"]
    before = call._local.connection._sock
    client.client_kill_filter(_type="normal", skipme=False)  # as a Redis restart would
    assert call(["k"], ["b", 2]) == [b"k", b"b", b"2"]
    assert call._local.connection._sock is not before


def test_a_script_error_leaves_the_connection_usable(client: redis.Redis) -> None:
    call = ScriptCaller(client, "return redis.call('INCR', KEYS[1])")
    client.set("text", "not a number")
    with pytest.raises(redis.exceptions.ResponseError):
        call(["text"], [])
    assert call(["counter"], []) == 1


def test_each_thread_keeps_its_own_connection_and_close_releases_them(client: redis.Redis) -> None:
    import threading

    call = ScriptCaller(client, ECHO)
    sockets: list[object] = []

    def twice() -> None:
        call(["k"], ["a", 1])
        first = call._local.connection
        call(["k"], ["a", 2])
        assert call._local.connection is first
        sockets.append(first)

    threads = [threading.Thread(target=twice) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len({id(connection) for connection in sockets}) == 4
    client.close()
    assert all(connection._sock is None for connection in sockets)


def test_the_store_begins_and_finishes_over_a_server_restart_of_its_connections(client: redis.Redis) -> None:
    store = RedisStore("redis://unused", client=client)
    mark = Pending(stamp=1, owner="o")
    assert store.begin("k", "o", lease_s=5, keep_s=60, event="e", mark=mark) is not None
    client.client_kill_filter(_type="normal", skipme=False)
    state = store.begin("k", "o", lease_s=5, keep_s=60, event="e", mark=mark)
    assert state is not None and "e" in state.pending
    assert store.finish("k", "o", state, keep_s=60)
