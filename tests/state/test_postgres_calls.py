"""The PostgreSQL store's connections and prepared statements: what psycopg_pool did for them, they still do."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from sendx_worker.errors import StoreUnavailable
from sendx_worker.state import ContactState, Pending
from sendx_worker.state.postgres import PostgresStore
from sendx_worker.state.postgres_calls import Connections, ConnectionsBusy, PreparedStatement
from tests.support.stores import POSTGRES_URL, postgres_schema

ECHO = PreparedStatement("sendx_test_echo", "SELECT $1::text || '!'")


def backend_pid(db: psycopg.Connection[object]) -> int:
    return db.info.backend_pid


def terminate(pid: int) -> None:
    """Have the server end one connection (as a restart or an idle timeout would)."""
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.fixture
def url() -> Iterator[str]:
    with postgres_schema() as isolated:
        yield isolated


@pytest.fixture
def store(url: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(url, pool_size=2)
    try:
        yield opened
    finally:
        opened.close()


def test_a_prepared_statement_runs_with_text_parameters_and_returns_text(url: str) -> None:
    connections = Connections(url, 1, statements=[ECHO])
    try:
        assert connections.run(ECHO, [b"h\xc3\xa9"]).get_value(0, 0) == b"h\xc3\xa9!"
    finally:
        connections.close()


def test_no_more_connections_are_made_than_the_size_and_a_caller_waits_for_one(url: str) -> None:
    connections = Connections(url, 2, statements=[ECHO], wait_s=0.2)
    try:
        first, second = connections.take(), connections.take()
        with pytest.raises(ConnectionsBusy):
            connections.take()
        threading.Timer(0.05, connections.give, [second]).start()
        assert connections.take() is second
        connections.give(first)
        connections.give(second)
    finally:
        connections.close()


def test_a_connection_the_server_ended_fails_one_call_and_is_replaced(store: PostgresStore) -> None:
    connections = store._connections
    db = connections.take()
    connections.give(db)
    connections.give(connections.take())  # the second place: one live connection each
    terminate(backend_pid(db))
    mark = Pending(stamp=1, owner="o")
    failures = 0
    for _ in range(3):  # whichever place comes up first, its next call works
        try:
            store.begin("k", "o", lease_s=30, keep_s=60, event="e", mark=mark)
        except StoreUnavailable:
            failures += 1
    assert failures == 1
    assert db.closed
    assert store.peek("k") == ContactState(pending={"e": mark})


def test_statements_the_server_forgot_are_prepared_again(store: PostgresStore) -> None:
    store.ping()  # connects and prepares
    db = store._connections.take()
    db.execute("DEALLOCATE ALL")
    store._connections.give(db)
    mark = Pending(stamp=1, owner="o")
    for key in ("a", "b"):  # both places, whichever comes first
        begun = store.begin(key, "o", lease_s=30, keep_s=60, event="e", mark=mark)
        assert begun == ContactState(pending={"e": mark})
        assert store.finish(key, "o", ContactState(done={"e": 5}), keep_s=60)


def test_an_error_names_the_store_without_its_password_and_leaves_no_connection_taken(url: str) -> None:
    store = PostgresStore(url.replace("postgres@", "postgres:s3cret@"), pool_size=1)
    try:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            schema = url.rsplit("%3D", 1)[1]
            admin.execute(f'DROP TABLE "{schema}".sendx_contacts')
        with pytest.raises(StoreUnavailable) as caught:
            store.begin("k", "o", lease_s=30, keep_s=60, event="e", mark=Pending(stamp=1, owner="o"))
        assert "127.0.0.1:5432" in str(caught.value) and "s3cret" not in str(caught.value)
        store.ping()  # the one place is free again
    finally:
        store.close()


def session_setting(store: PostgresStore, name: str) -> str:
    db = store._connections.take()
    try:
        row = db.execute(f"SHOW {name}").fetchone()
        assert row is not None
        return str(row[0])
    finally:
        store._connections.give(db)


def test_connections_do_not_wait_for_the_wal_flush_by_default(store: PostgresStore) -> None:
    assert session_setting(store, "synchronous_commit") == "off"


def test_a_url_that_sets_synchronous_commit_keeps_its_choice(url: str) -> None:
    store = PostgresStore(f"{url}%20-csynchronous_commit%3Dremote_write", pool_size=1)
    try:
        assert session_setting(store, "synchronous_commit") == "remote_write"
        assert session_setting(store, "search_path") == url.rsplit("%3D", 1)[1]
    finally:
        store.close()
