"""The state store in an SQLite file: the default beside the embedded broker.

One file (``$SENDX_DATA_DIR/state.sqlite3`` by default) shared by the worker
processes of one host, like the embedded broker itself. Write-ahead logging lets
readers run beside the one writer; every operation is one short ``BEGIN IMMEDIATE``
transaction (finish: one ``UPDATE``), which takes the write lock at once, so two
processes cannot both read an entry and then both write it. A process's threads take
their turns at that lock in order, on a lock of the process's own. ``synchronous=NORMAL``: with WAL, a committed write
survives a crash of the process (not necessarily of the machine, whose loss the
embedded broker does not survive either). Each thread keeps its own connection.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ..errors import StoreUnavailable
from .contact import ContactState, Pending
from .entry import LEASE_OWNER, begun_entry, finished_entry, lease_free_for, state_of

__all__ = ["SqliteStore"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sendx_contacts (key TEXT PRIMARY KEY, entry TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sendx_contacts_expires ON sendx_contacts (expires_at);
CREATE TABLE IF NOT EXISTS sendx_values (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL);
"""
BUSY_TIMEOUT_S = 10.0
# Where an entry's JSON keeps its lease holder.
_LEASE_OWNER_PATH = f"$.{LEASE_OWNER}"


class SqliteStore:
    """A :class:`~sendx_worker.state.base.StateStore` in one SQLite file."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.display_url = f"sqlite:///{path}"
        self._clock = clock
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writer = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as db:
            db.executescript(_SCHEMA)

    # --- contacts -------------------------------------------------------------------

    def begin(
        self, key: str, owner: str, *, lease_s: float, keep_s: float, event: str, mark: Pending
    ) -> ContactState | None:
        with self._transaction() as db:
            now = self._clock()
            entry = self._entry(db, key, now)
            if not lease_free_for(entry, owner, now):
                return None
            begun = begun_entry(entry, owner, now + lease_s, event, mark)
            db.execute(
                "INSERT INTO sendx_contacts (key, entry, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE"
                " SET entry = excluded.entry, expires_at = max(expires_at, excluded.expires_at)",
                (key, json.dumps(begun), now + keep_s),
            )
            return state_of(begun)

    def finish(self, key: str, owner: str, state: ContactState, *, keep_s: float) -> bool:
        # One statement, atomic by itself: no transaction of ours, and no entry read
        # and parsed here only to compare its lease holder (run for every delivery).
        entry = json.dumps(finished_entry(state))
        try:
            db = self._connection()
            with self._write_turn():
                now = self._clock()
                written = db.execute(
                    "UPDATE sendx_contacts SET entry = ?, expires_at = ?"
                    " WHERE key = ? AND expires_at > ? AND json_extract(entry, ?) = ?",
                    (entry, now + keep_s, key, now, _LEASE_OWNER_PATH, owner),
                )
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc
        return written.rowcount == 1

    def peek(self, key: str) -> ContactState | None:
        with self._transaction() as db:
            entry = self._entry(db, key, self._clock())
            return state_of(entry) if entry else None

    @staticmethod
    def _entry(db: sqlite3.Connection, key: str, now: float) -> dict[str, Any]:
        row = db.execute("SELECT entry FROM sendx_contacts WHERE key = ? AND expires_at > ?", (key, now)).fetchone()
        if row is None:
            return {}
        found: dict[str, Any] = json.loads(row[0])
        return found

    # --- values -----------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        with self._transaction() as db:
            return self._value(db, key, self._clock())

    def compare_and_set(self, key: str, expected: str | None, new: str, *, ttl_s: float | None = None) -> bool:
        with self._transaction() as db:
            now = self._clock()
            if self._value(db, key, now) != expected:
                return False
            self._put(db, key, new, now + ttl_s if ttl_s is not None else None)
            return True

    def incr(self, key: str, by: int = 1, *, ttl_s: float | None = None) -> int:
        with self._transaction() as db:
            now = self._clock()
            total = int(self._value(db, key, now) or 0) + by
            if ttl_s is not None:
                expires: float | None = now + ttl_s
            else:
                row = db.execute("SELECT expires_at FROM sendx_values WHERE key = ?", (key,)).fetchone()
                expires = row[0] if row is not None and (row[0] is None or row[0] > now) else None
            self._put(db, key, str(total), expires)
            return total

    def acquire(self, key: str, owner: str, *, ttl_s: float) -> bool:
        with self._transaction() as db:
            now = self._clock()
            holder = self._value(db, key, now)
            if holder is not None and holder != owner:
                return False
            self._put(db, key, owner, now + ttl_s)
            return True

    def release(self, key: str, owner: str) -> bool:
        with self._transaction() as db:
            if self._value(db, key, self._clock()) != owner:
                return False
            db.execute("DELETE FROM sendx_values WHERE key = ?", (key,))
            return True

    def delete(self, key: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM sendx_values WHERE key = ?", (key,))

    def purge_expired(self) -> int:
        with self._transaction() as db:
            now = self._clock()
            gone = db.execute("DELETE FROM sendx_contacts WHERE expires_at <= ?", (now,)).rowcount
            gone += db.execute("DELETE FROM sendx_values WHERE expires_at <= ?", (now,)).rowcount
            return int(gone)

    def ping(self) -> None:
        with self._transaction() as db:
            db.execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    @staticmethod
    def _value(db: sqlite3.Connection, key: str, now: float) -> str | None:
        row = db.execute(
            "SELECT value FROM sendx_values WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)", (key, now)
        ).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _put(db: sqlite3.Connection, key: str, value: str, expires: float | None) -> None:
        db.execute(
            "INSERT INTO sendx_values (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE"
            " SET value = excluded.value, expires_at = excluded.expires_at",
            (key, value, expires),
        )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            db = self._connection()
            with self._write_turn():
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.rollback()
                    raise
                db.commit()
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc

    @contextmanager
    def _write_turn(self) -> Iterator[None]:
        # This process's threads queue for the write lock here, on a plain lock, rather
        # than in SQLite's busy handler, which polls the file's lock with growing sleeps:
        # with 64 threads that polling cost more CPU than the statements (issue 10).
        # SQLite's own lock still orders the processes sharing the file.
        if not self._writer.acquire(timeout=BUSY_TIMEOUT_S):
            raise sqlite3.OperationalError("database is locked (by this process's other threads)")
        try:
            yield
        finally:
            self._writer.release()

    def _unavailable(self, exc: sqlite3.Error) -> StoreUnavailable:
        return StoreUnavailable(f"state store {self.display_url}: {type(exc).__name__}: {exc}")

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            # isolation_level=None: transactions are ours (BEGIN IMMEDIATE), not sqlite3's.
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            _use_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db


def _use_wal(db: sqlite3.Connection) -> None:
    """Put the file in WAL mode (it stays so), waiting out other processes doing the same.

    Changing the journal mode needs a lock that SQLite's busy timeout does not wait for:
    two worker processes opening a new file at once got "database is locked" at once.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
