"""PostgreSQL connections for the state store: a few per process, and statements prepared on each.

Ordering runs two statements per delivered task (a contact's begin and finish), and
through psycopg's own path ordering cost a worker ~0.9 ms of CPU per task against ~0.2
on the Redis store (issue 10), most of it in that path: ``psycopg_pool``'s checkout and
return (a context manager, a condition variable, a waiting client per call, a check on
return), then a cursor, the query's conversion, the parameters' adaptation and the
result's loaders. Here a connection is taken from a queue implemented in C
(:class:`queue.SimpleQueue`), which also bounds how many there are, and the two hot
statements are prepared once per connection and run by libpq itself
(``PQexecPrepared``, which releases the GIL while it waits), with text parameters in
and the text of the one returned value out. The rarer operations use psycopg's
``execute`` on the same connections.

What the pool did about failures stays: a connection whose server went away, or that
an error left in an unknown state, is closed and its place taken by a new connection
on the next use; a caller that finds every connection busy for ``wait_s`` gets
:class:`ConnectionsBusy`.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import pq
from psycopg.errors import error_from_result
from psycopg.pq.abc import PGresult

__all__ = ["Connections", "ConnectionsBusy", "PreparedStatement"]

_FINE = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)
# A statement the server forgot (``DISCARD ALL`` by a connection pooler in between):
# prepared again, and run once more.
_UNKNOWN_STATEMENT = b"26000"


class ConnectionsBusy(Exception):
    """Raised when no connection frees up within the wait."""


class PreparedStatement:
    """A statement prepared under ``name`` on every connection of a :class:`Connections`."""

    def __init__(self, name: str, sql: str) -> None:
        self.name = name.encode()
        self.sql = sql.encode()

    def prepare(self, db: psycopg.Connection[Any]) -> None:
        """Prepare the statement on ``db``."""
        _checked(db, db.pgconn.prepare(self.name, self.sql))

    def run(self, db: psycopg.Connection[Any], params: list[bytes]) -> PGresult:
        """The statement's result on ``db`` with ``params`` (text form); raises psycopg.Error.

        A list, not any sequence: psycopg 3.2's C implementation takes nothing else.
        """
        result = db.pgconn.exec_prepared(self.name, params)
        if result.status in _FINE:
            return result
        if result.error_field(pq.DiagnosticField.SQLSTATE) == _UNKNOWN_STATEMENT:
            self.prepare(db)
            result = db.pgconn.exec_prepared(self.name, params)
        return _checked(db, result)


class Connections:
    """At most ``size`` autocommit connections to ``url``, each used by one caller at a time.

    Each new connection runs the ``setup`` commands, then prepares the ``statements``.
    """

    def __init__(
        self,
        url: str,
        size: int,
        *,
        setup: Sequence[str] = (),
        statements: Sequence[PreparedStatement] = (),
        wait_s: float = 10.0,
    ) -> None:
        self._url = url
        self._setup = tuple(setup)
        self._statements = tuple(statements)
        self._wait_s = wait_s
        # None is a free place for a connection not made yet (or closed after a failure).
        self._idle: queue.SimpleQueue[psycopg.Connection[Any] | None] = queue.SimpleQueue()
        for _ in range(size):
            self._idle.put(None)
        self._made: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()

    def take(self) -> psycopg.Connection[Any]:
        """A connection for the caller alone, until it :meth:`give` s it back; may connect."""
        try:
            db = self._idle.get(timeout=self._wait_s)
        except queue.Empty:
            raise ConnectionsBusy(f"no free connection within {self._wait_s:g} s") from None
        if db is not None and not db.closed:
            return db
        try:
            return self._connect()
        except BaseException:
            self._idle.put(None)
            raise

    def give(self, db: psycopg.Connection[Any]) -> None:
        """Return ``db`` for the next caller; one that a failure left broken or mid-statement is closed.

        Its place then goes to a new connection, made by the next :meth:`take` that needs it.
        """
        pgconn = db.pgconn
        if pgconn.status == pq.ConnStatus.OK and pgconn.transaction_status == pq.TransactionStatus.IDLE:
            self._idle.put(db)
            return
        db.close()
        with self._lock:
            if db in self._made:
                self._made.remove(db)
        self._idle.put(None)

    def run(self, statement: PreparedStatement, params: list[bytes]) -> PGresult:
        """``statement``'s result with ``params``, on a connection taken for the call."""
        db = self.take()
        try:
            return statement.run(db, params)
        finally:
            self.give(db)

    def close(self) -> None:
        """Close every connection made (a later :meth:`take` connects again)."""
        with self._lock:
            made, self._made = self._made, []
        for db in made:
            db.close()

    def _connect(self) -> psycopg.Connection[Any]:
        db = psycopg.Connection.connect(self._url, **_CONNECT)
        try:
            for command in self._setup:
                db.execute(command)
            for statement in self._statements:
                # One the server refuses now (its table gone) is prepared again when run,
                # and fails then: the connection still serves every other statement.
                with contextlib.suppress(psycopg.DatabaseError):
                    statement.prepare(db)
        except BaseException:
            db.close()
            raise
        with self._lock:
            self._made.append(db)
        return db


_CONNECT: Mapping[str, Any] = {"autocommit": True, "connect_timeout": 5}


def _checked(db: psycopg.Connection[Any], result: PGresult) -> PGresult:
    if result.status not in _FINE:
        raise error_from_result(result, encoding=db.info.encoding)
    return result
