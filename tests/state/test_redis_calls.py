"""The Redis store's one-round-trip script calls: what redis-py did for them, they still do."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from sendx_worker.errors import StoreUnavailable
from sendx_worker.state import Pending
from sendx_worker.state.redis import RedisStore
from sendx_worker.state.redis_calls import IdleConnections, ScriptCaller, pack
from tests.support.brokers import redis_database

ECHO = "return {KEYS[1], ARGV[1], ARGV[2]}"


def close_from_the_server(client: redis.Redis, connection: object) -> None:
    """Have the server close ``connection`` (as a restart would), and no other client's."""
    host, port = connection._sock.getsockname()[:2]  # type: ignore[attr-defined]
    client.client_kill_filter(addr=f"{host}:{port}")


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
    call = ScriptCaller(IdleConnections(client), ECHO)
    assert call(["k é"], ["a", 7]) == [b"k \xc3\xa9", b"a", b"7"]
    assert client.script_exists(call._sha) == [True]
    assert call(["k"], ["b", 8]) == [b"k", b"b", b"8"]


def test_a_connection_the_server_closed_is_replaced_and_the_call_made_once_more(client: redis.Redis) -> None:
    connections = IdleConnections(client, limit=1)
    call = ScriptCaller(connections, ECHO)
    assert call(["k"], ["a", 1]) == [b"k", b"a", b"1"]
    only = connections.take()
    before = only._sock
    close_from_the_server(client, only)
    connections.give_back(only)
    assert call(["k"], ["b", 2]) == [b"k", b"b", b"2"]
    assert only._sock is not before
    assert connections.made == 1


def test_a_script_error_leaves_the_connection_usable(client: redis.Redis) -> None:
    call = ScriptCaller(IdleConnections(client), "return redis.call('INCR', KEYS[1])")
    client.set("text", "not a number")
    with pytest.raises(redis.exceptions.ResponseError):
        call(["text"], [])
    assert call(["counter"], []) == 1


def test_many_threads_share_a_few_connections_outside_the_clients_pool_and_close_ends_them(
    client: redis.Redis,
) -> None:
    bounded = redis.Redis(
        connection_pool=redis.ConnectionPool(**client.connection_pool.connection_kwargs, max_connections=2)
    )
    connections = IdleConnections(bounded, limit=3)
    call = ScriptCaller(connections, ECHO)
    failures: list[BaseException] = []
    start = threading.Barrier(16)

    def calls() -> None:
        try:
            start.wait(timeout=30)
            for number in range(20):
                assert call(["k"], ["a", number]) == [b"k", b"a", str(number).encode()]
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=calls) for _ in range(16)]  # more threads than either bound
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not failures
    assert connections.made == 3
    assert bounded.ping()  # the client's own pool is untouched
    lent = [connections.take() for _ in range(3)]
    connections.close()
    assert all(connection._sock is None for connection in lent)
    bounded.close()


def test_a_call_that_finds_every_connection_lent_waits_then_gives_up_as_a_timeout(client: redis.Redis) -> None:
    connections = IdleConnections(client, limit=1, wait_s=0.05)
    held = connections.take()
    with pytest.raises(redis.exceptions.TimeoutError, match="no Redis connection free"):
        ScriptCaller(connections, ECHO)(["k"], ["a", 1])
    connections.give_back(held)
    assert ScriptCaller(connections, ECHO)(["k"], ["a", 1]) == [b"k", b"a", b"1"]


def test_the_store_begins_and_finishes_over_a_server_restart_of_its_connections(client: redis.Redis) -> None:
    store = RedisStore("redis://unused", client=client)
    mark = Pending(stamp=1, owner="o")
    assert store.begin("k", "o", lease_s=5, keep_s=60, event="e", mark=mark) is not None
    connection = store._connections.take()
    close_from_the_server(client, connection)
    store._connections.give_back(connection)
    state = store.begin("k", "o", lease_s=5, keep_s=60, event="e", mark=mark)
    assert state is not None and "e" in state.pending
    assert store.finish("k", "o", state, keep_s=60)


def test_the_connections_wait_with_the_kernels_timeout_not_pythons(client: redis.Redis) -> None:
    kwargs = {**client.connection_pool.connection_kwargs, "socket_timeout": 2.5}
    connections = IdleConnections(redis.Redis(connection_pool=redis.ConnectionPool(**kwargs)), limit=1)
    call = ScriptCaller(connections, ECHO)
    assert call(["k"], ["a", 1]) == [b"k", b"a", b"1"]
    only = connections.take()
    sock = only._sock
    # Python's timeout would poll before every send and receive: the socket blocks, and
    # the kernel bounds each wait by the client's socket_timeout.
    assert sock.gettimeout() is None
    expected = struct.pack("ll", 2, 500_000)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, len(expected)) == expected
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, len(expected)) == expected
    # A reconnection gets the same.
    close_from_the_server(client, only)
    connections.give_back(only)
    assert call(["k"], ["b", 2]) == [b"k", b"b", b"2"]
    assert only._sock is not sock
    assert only._sock.gettimeout() is None
    connections.close()


def test_a_server_that_never_answers_makes_the_store_unavailable_within_its_timeout() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_say_nothing() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    acceptor = threading.Thread(target=accept_and_say_nothing, daemon=True)
    acceptor.start()
    try:
        port = listener.getsockname()[1]
        # No hand-shake commands (library name, database): the script's own read is what waits.
        silent = redis.Redis(
            host="127.0.0.1", port=port, socket_timeout=0.3, socket_connect_timeout=1, driver_info=None
        )
        store = RedisStore("redis://127.0.0.1/0", client=silent)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.begin("k", "o", lease_s=5, keep_s=60, event="e", mark=Pending(stamp=1, owner="o"))
        # Two tries (the second reconnected), each waiting out the 0.3 s timeout; a
        # generous bound, for a loaded machine: without a timeout this never returns.
        assert 0.6 <= time.monotonic() - started < 20
        assert len(accepted) == 2
        store.close()
    finally:
        stop.set()
        acceptor.join(timeout=5)
        for sock in accepted:
            sock.close()
        listener.close()


def test_replies_are_parsed_in_c(client: redis.Redis) -> None:
    """hiredis is a dependency: without it redis-py parses every reply in Python (~25 us of CPU each)."""
    connection = IdleConnections(client).take()
    connection.connect()
    try:
        assert type(connection._parser).__name__ == "_HiredisParser"
    finally:
        connection.disconnect()
