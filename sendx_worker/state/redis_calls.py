"""Lua scripts run in one round trip each, on a connection lent to the call alone.

Ordering runs two scripts per delivered task (a contact's begin and finish), and with
64 threads redis-py's command path cost about as much CPU as the call to SendX around
it (issue 12: ~17 % of a worker's GIL samples): the pool's ``get_connection``, which
polls the socket for stray data on every command, its argument encoder, the retry and
observability wrappers, ``Script.__call__``'s ``EVALSHA`` wrapper. Here a call takes an
idle connection (made with the client's settings but outside its pool, whose bound, 100
by default, the threads would otherwise eat) and gives it back after the reply, the
request is packed directly, and the reply is read by redis-py's own parser.

A script holds its connection for one round trip of a task's tens of milliseconds, so
a few connections serve all 64 threads (at most :data:`CONNECTION_LIMIT`). One per
thread, as before, cost a worker process ~3 MB of RSS (64 connections, their parsers
and read buffers) for sockets that mostly stood idle (docs/BENCHMARKS.md, "Memory").

What redis-py would have done about failures stays: a stale connection (Redis
restarted, an idle one closed) is reconnected and the call made once more, and a script
the server does not know yet is sent whole (``EVAL``), which also loads it for the next
``EVALSHA``.

A connection's timeout is the kernel's (``SO_RCVTIMEO``/``SO_SNDTIMEO``) rather than
Python's: with a Python timeout every ``send`` and ``recv`` is preceded by a ``poll``,
each a system call that lets go of the GIL, and the 64 threads of a worker queue for
it; the kernel's timeout bounds a hung server's wait the same way (the read fails, the
connection is dropped and the call tried once more, then the store is unavailable).
TLS connections keep Python's timeout.
"""

from __future__ import annotations

import hashlib
import queue
import socket
import ssl
import struct
import threading
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["CONNECTION_LIMIT", "IdleConnections", "ScriptCaller", "pack"]

# A script holds its connection for one round trip (~0.2 ms) of a task's tens of
# milliseconds: 64 threads rarely have more than a few running at once, and 8 leave room
# for a burst (a worker starting on a full queue) without one connection per thread.
CONNECTION_LIMIT = 8
# How long a call waits for a connection when the client has no socket timeout.
DEFAULT_WAIT_S = 5.0


def _raw(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()  # strict UTF-8, as redis-py's encoder
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value).encode()
    raise TypeError(f"cannot send a {type(value).__name__} to Redis")


def pack(*parts: Any) -> bytes:
    """One Redis command in RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        raw = part.encode() if type(part) is str else _raw(part)
        out += (b"$%d\r\n" % len(raw), raw, b"\r\n")
    return b"".join(out)


class IdleConnections:
    """At most ``limit`` connections to ``client``'s server, with its settings, each lent to one call at a time."""

    def __init__(self, client: Any, *, limit: int = CONNECTION_LIMIT, wait_s: float | None = None) -> None:
        self._pool = client.connection_pool
        self._limit = limit
        # A wait for a connection is bounded as a reply is (``wait_s``, by default the
        # socket timeout): a Redis that hangs holds every lent connection, and the calls
        # waiting behind them give up in as long.
        self._wait_s: float = wait_s or self._pool.connection_kwargs.get("socket_timeout") or DEFAULT_WAIT_S
        # SimpleQueue's put and get_nowait are C calls, atomic, with no lock of ours.
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._made: list[Any] = []
        self._kernel_timeout_s: float | None = self._pool.connection_kwargs.get("socket_timeout")

    def take(self) -> Any:
        """An idle connection, else a new one below the limit, else the next one given back.

        Raises redis's TimeoutError when none comes back within the socket timeout.
        """
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if len(self._made) < self._limit:
                pool = self._pool
                connection = pool.connection_class(**pool.connection_kwargs)  # connects on first use
                if self._kernel_timeout_s:
                    connection.register_connect_callback(self._use_kernel_timeouts)
                self._made.append(connection)
                return connection
        try:
            return self._idle.get(timeout=self._wait_s)
        except queue.Empty:
            raise RedisTimeoutError(f"no Redis connection free after {self._wait_s} s ({self._limit} in use)") from None

    def give_back(self, connection: Any) -> None:
        """Return ``connection``, its reply read (or itself disconnected), for the next call."""
        self._idle.put(connection)

    def _use_kernel_timeouts(self, connection: Any) -> None:
        """Called on every (re)connect: the socket blocks, and the kernel bounds its waits."""
        sock = connection._sock
        timeout_s = self._kernel_timeout_s
        if not timeout_s or isinstance(sock, ssl.SSLSocket) or not isinstance(sock, socket.socket):
            return
        seconds = int(timeout_s)
        timeval = struct.pack("ll", seconds, int((timeout_s - seconds) * 1_000_000))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        sock.settimeout(None)

    @property
    def made(self) -> int:
        """How many connections have been made (at most the limit)."""
        return len(self._made)

    def close(self) -> None:
        """Disconnect every connection (a later call connects again)."""
        with self._lock:
            made = list(self._made)
        for connection in made:
            connection.disconnect()


class ScriptCaller:
    """Runs one Lua script on the server of ``connections``."""

    def __init__(self, connections: IdleConnections, script: str) -> None:
        self._connections = connections
        self._script = script
        self._sha = hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 (Redis names scripts by SHA-1)

    def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """The script's reply (bytes, ints, lists of them, None for Lua's false)."""
        connections = self._connections
        connection = connections.take()
        try:
            try:
                return self._run(connection, keys, args)
            except (RedisConnectionError, RedisTimeoutError):
                # Once more, reconnected, as redis-py retries (a restarted server, an idle
                # connection it closed): begin and finish may run twice for one owner.
                return self._run(connection, keys, args)
        finally:
            connections.give_back(connection)

    def _run(self, connection: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            try:
                connection.send_packed_command([pack("EVALSHA", self._sha, len(keys), *keys, *args)])
                return connection.read_response()
            except NoScriptError:
                connection.send_packed_command([pack("EVAL", self._script, len(keys), *keys, *args)])
                return connection.read_response()
        except BaseException:
            # A reply half read (or never read) would be taken for the next call's.
            connection.disconnect()
            raise
