"""The state store in PostgreSQL (psycopg 3): two tables, one statement per operation.

``sendx_contacts`` holds each contact's entry as a JSON object beside its lease
(owner and end) and expiry; ``sendx_values`` holds the values and plain leases. The
tables are created on first use, in the schema the connection's ``search_path``
names (``?options=-csearch_path%3Dsendx`` in the URL selects another). Every
operation is a single statement in autocommit, so it is atomic by itself and costs
one round trip; the server's clock (``now()``) decides leases and expiry. Rows past
their expiry read as absent; :meth:`PostgresStore.purge_expired` deletes them.

Connections are a few per process (:mod:`.postgres_calls`): 64 threads share them,
since each holds one only for the length of a statement, and a fleet of worker
processes must stay well inside the server's ``max_connections``. Begin and finish,
run for every delivered task, are statements prepared on each connection.

The connections set ``synchronous_commit = off``: a statement returns once its change
is committed, without waiting for the server to flush its WAL to disk. Waiting cost
each statement a flush (~5 ms on a busy disk), so that 8 connections capped a process
near 800 tasks/s, far less on a disk shared with other work, and threads queued for
connections. The store keeps leases and marks that a Redis store keeps with no stronger
guarantee: what a crash of the server (not of a worker) may lose is the last fraction
of a second of writes (at most three times ``wal_writer_delay``), never a torn one, and
the database stays consistent. A URL whose options name ``synchronous_commit``
(``?options=-csynchronous_commit%3Don``) keeps its own choice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ..errors import StoreUnavailable
from ..proxies import redact_url
from .contact import ContactState, Pending
from .entry import finished_entry
from .postgres_calls import Connections, ConnectionsBusy, PreparedStatement

if TYPE_CHECKING:
    from psycopg.pq.abc import PGresult

__all__ = ["POOL_SIZE", "PostgresStore"]

T = TypeVar("T")

#: Connections per worker process; a statement holds one for well under a millisecond.
POOL_SIZE = 8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sendx_contacts (
    key text PRIMARY KEY,
    entry jsonb NOT NULL,
    lease_owner text,
    lease_until timestamptz,
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sendx_contacts_expires ON sendx_contacts (expires_at);
CREATE TABLE IF NOT EXISTS sendx_values (
    key text PRIMARY KEY,
    value text NOT NULL,
    expires_at timestamptz
);
"""

# A value's expiry is computed by the server from its time-to-live in seconds, %(ttl)s
# (NULL: none): (CASE WHEN %(ttl)s IS NULL THEN NULL ELSE now() + make_interval(...) END).

# An expired row is a fresh one: its entry starts again from the mark alone. The
# WHERE makes the update (and so the RETURNING row) happen only for a free, lapsed or
# own lease; another owner's lease returns no row.
# $1 key, $2 owner, $3 lease seconds, $4 keep seconds, $5 pending field, $6 pending mark.
_BEGIN = """
INSERT INTO sendx_contacts AS c (key, entry, lease_owner, lease_until, expires_at)
VALUES ($1, jsonb_build_object($5::text, $6::text), $2,
        now() + make_interval(secs => $3::float8), now() + make_interval(secs => $4::float8))
ON CONFLICT (key) DO UPDATE SET
    entry = CASE WHEN c.expires_at <= now() THEN excluded.entry
                 ELSE c.entry || jsonb_build_object($5::text, coalesce(c.entry -> $5::text, to_jsonb($6::text)))
            END,
    lease_owner = excluded.lease_owner,
    lease_until = excluded.lease_until,
    expires_at = greatest(c.expires_at, excluded.expires_at)
WHERE c.lease_owner IS NULL OR c.lease_owner = excluded.lease_owner OR c.lease_until <= now()
   OR c.expires_at <= now()
RETURNING entry
"""

# $1 key, $2 owner, $3 keep seconds, $4 the entry (JSON text).
_FINISH = """
UPDATE sendx_contacts SET entry = $4::jsonb, lease_owner = NULL, lease_until = NULL,
    expires_at = now() + make_interval(secs => $3::float8)
WHERE key = $1 AND lease_owner = $2
"""

_PEEK = "SELECT entry FROM sendx_contacts WHERE key = %(key)s AND expires_at > now()"

_GET = "SELECT value FROM sendx_values WHERE key = %(key)s AND (expires_at IS NULL OR expires_at > now())"

# Set when absent or expired (expected None), or when equal to the expected value.
_CAS_ABSENT = """
INSERT INTO sendx_values AS v (key, value, expires_at) VALUES (%(key)s, %(new)s,
    (CASE WHEN %(ttl)s::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => %(ttl)s::float8) END))
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
WHERE v.expires_at IS NOT NULL AND v.expires_at <= now()
RETURNING 1
"""
_CAS_EQUAL = """
UPDATE sendx_values SET value = %(new)s, expires_at =
    (CASE WHEN %(ttl)s::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => %(ttl)s::float8) END)
WHERE key = %(key)s AND value = %(expected)s AND (expires_at IS NULL OR expires_at > now())
RETURNING 1
"""

_INCR = """
INSERT INTO sendx_values AS v (key, value, expires_at) VALUES (%(key)s, %(by)s::text,
    (CASE WHEN %(ttl)s::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => %(ttl)s::float8) END))
ON CONFLICT (key) DO UPDATE SET
    value = (CASE WHEN v.expires_at IS NOT NULL AND v.expires_at <= now() THEN 0 ELSE v.value::bigint END
             + %(by)s::bigint)::text,
    expires_at = CASE WHEN %(ttl)s::float8 IS NOT NULL THEN excluded.expires_at
                      WHEN v.expires_at IS NOT NULL AND v.expires_at <= now() THEN NULL
                      ELSE v.expires_at END
RETURNING value
"""

_ACQUIRE = """
INSERT INTO sendx_values AS v (key, value, expires_at) VALUES (%(key)s, %(owner)s,
    (CASE WHEN %(ttl)s::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => %(ttl)s::float8) END))
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
WHERE v.value = excluded.value OR (v.expires_at IS NOT NULL AND v.expires_at <= now())
RETURNING 1
"""

_RELEASE = """
DELETE FROM sendx_values WHERE key = %(key)s AND value = %(owner)s
    AND (expires_at IS NULL OR expires_at > now())
"""


class PostgresStore:
    """A :class:`~sendx_worker.state.base.StateStore` in PostgreSQL."""

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        self.display_url = redact_url(url)
        # The tables come first, on a connection of their own: the pooled ones prepare
        # statements on them as they connect.
        try:
            with psycopg.Connection.connect(url, autocommit=True, connect_timeout=5) as db:
                _create_tables(db)
        except psycopg.Error as exc:
            raise self._unavailable(exc) from exc
        self._connections = Connections(
            url, pool_size, setup=_session_setup(url), statements=(_BEGIN_STATEMENT, _FINISH_STATEMENT)
        )

    # --- contacts -------------------------------------------------------------------

    def begin(
        self, key: str, owner: str, *, lease_s: float, keep_s: float, event: str, mark: Pending
    ) -> ContactState | None:
        mark_key = f"p:{event}".encode()
        params = [key.encode(), owner.encode(), _seconds(lease_s), _seconds(keep_s), mark_key, mark.text().encode()]
        result = self._prepared(_BEGIN_STATEMENT, params)
        if not result.ntuples:
            return None
        return ContactState.from_flat(json.loads(result.get_value(0, 0) or b"{}"))

    def finish(self, key: str, owner: str, state: ContactState, *, keep_s: float) -> bool:
        entry = json.dumps(finished_entry(state), separators=(",", ":")).encode()
        result = self._prepared(_FINISH_STATEMENT, [key.encode(), owner.encode(), _seconds(keep_s), entry])
        return bool(result.command_tuples)

    def peek(self, key: str) -> ContactState | None:
        row = self._one(_PEEK, {"key": key})
        return None if row is None else ContactState.from_flat(row[0])

    # --- values -----------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        row = self._one(_GET, {"key": key})
        return None if row is None else str(row[0])

    def compare_and_set(self, key: str, expected: str | None, new: str, *, ttl_s: float | None = None) -> bool:
        params = {"key": key, "new": new, "expected": expected, "ttl": ttl_s}
        return self._one(_CAS_ABSENT if expected is None else _CAS_EQUAL, params) is not None

    def incr(self, key: str, by: int = 1, *, ttl_s: float | None = None) -> int:
        params = {"key": key, "by": by, "ttl": ttl_s}
        row = self._one(_INCR, params)
        assert row is not None  # an upsert always returns its row
        return int(row[0])

    def acquire(self, key: str, owner: str, *, ttl_s: float) -> bool:
        return self._one(_ACQUIRE, {"key": key, "owner": owner, "ttl": ttl_s}) is not None

    def release(self, key: str, owner: str) -> bool:
        return bool(self._run(lambda db: db.execute(_RELEASE, {"key": key, "owner": owner}).rowcount))

    def delete(self, key: str) -> None:
        self._run(lambda db: db.execute("DELETE FROM sendx_values WHERE key = %(key)s", {"key": key}))

    def purge_expired(self) -> int:
        def purge(db: Any) -> int:
            gone = db.execute("DELETE FROM sendx_contacts WHERE expires_at <= now()").rowcount
            gone += db.execute("DELETE FROM sendx_values WHERE expires_at <= now()").rowcount
            return int(gone)

        return self._run(purge)

    def ping(self) -> None:
        self._run(lambda db: db.execute("SELECT 1").fetchone())

    def close(self) -> None:
        self._connections.close()

    def _prepared(self, statement: PreparedStatement, params: list[bytes]) -> PGresult:
        try:
            return self._connections.run(statement, params)
        except _ERRORS as exc:
            raise self._unavailable(exc) from exc

    def _one(self, query: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        found: tuple[Any, ...] | None = self._run(lambda db: db.execute(query, params).fetchone())
        return found

    def _run(self, operation: Callable[[Any], T]) -> T:
        connections = self._connections
        try:
            db = connections.take()
            try:
                return operation(db)
            finally:
                connections.give(db)
        except _ERRORS as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"state store {self.display_url}: {type(exc).__name__}: {exc}")


_BEGIN_STATEMENT = PreparedStatement("sendx_begin", _BEGIN)
_FINISH_STATEMENT = PreparedStatement("sendx_finish", _FINISH)
_ERRORS = (psycopg.Error, ConnectionsBusy)


def _session_setup(url: str) -> list[str]:
    """What each connection sets first: no wait for the WAL's flush, unless the URL's options decide it."""
    options = str(conninfo_to_dict(url).get("options") or "")
    return [] if "synchronous_commit" in options else ["SET synchronous_commit = off"]


def _seconds(seconds: float) -> bytes:
    return repr(float(seconds)).encode()


def _create_tables(db: Any) -> None:
    # Worker processes start together, and concurrent CREATE TABLE IF NOT EXISTS race
    # in PostgreSQL (a unique violation on pg_type): one at a time, under a lock.
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(hashtext('sendx_worker.state.tables'))")
        db.execute(_SCHEMA)
