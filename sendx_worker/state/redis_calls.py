"""Lua scripts run in one round trip each, on a connection of the calling thread's own.

Ordering runs two scripts per delivered task (a contact's begin and finish), and with
64 threads redis-py's command path cost about as much CPU as the call to SendX around
it (issue 12: ~17 % of a worker's GIL samples): the pool's ``get_connection``, which
polls the socket for stray data on every command, its argument encoder, the retry and
observability wrappers, ``Script.__call__``'s ``EVALSHA`` wrapper. Here each thread
keeps a connection of its own, made with the client's settings but outside its pool
(whose bound, 100 by default, the threads would otherwise eat), the request is packed
directly, and the reply is read by redis-py's own parser. What redis-py would have
done about failures stays: a stale connection (Redis restarted, an idle one closed) is
reconnected and the call made once more, and a script the server does not know yet is
sent whole (``EVAL``), which also loads it for the next ``EVALSHA``.

The socket's timeout is the kernel's (``SO_RCVTIMEO``/``SO_SNDTIMEO``) rather than
Python's: with a Python timeout every ``send`` and ``recv`` is preceded by a ``poll``,
each a system call that lets go of the GIL, and the 64 threads of a worker queue for
it; the kernel's timeout bounds a hung server's wait the same way (the read fails, the
connection is dropped and the call tried once more, then the store is unavailable).
TLS connections keep Python's timeout.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import struct
import threading
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["ScriptCaller", "ThreadConnections", "pack"]


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


class ThreadConnections:
    """One connection per thread to ``client``'s server, with the client's settings."""

    def __init__(self, client: Any) -> None:
        self._pool = client.connection_pool
        self._local = threading.local()
        self._lock = threading.Lock()
        self._made: list[Any] = []
        kwargs = self._pool.connection_kwargs
        self._kernel_timeout_s: float | None = kwargs.get("socket_timeout")

    def mine(self) -> Any:
        """The calling thread's connection (connected on first use)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            pool = self._pool
            connection = self._local.connection = pool.connection_class(**pool.connection_kwargs)
            if self._kernel_timeout_s:
                connection.register_connect_callback(self._use_kernel_timeouts)
            with self._lock:
                self._made.append(connection)
        return connection

    def _use_kernel_timeouts(self, connection: Any) -> None:
        """Called on every (re)connect: the socket blocks, and the kernel bounds its waits."""
        sock = connection._sock
        timeout_s = self._kernel_timeout_s
        if timeout_s is None or isinstance(sock, ssl.SSLSocket) or not isinstance(sock, socket.socket):
            return
        seconds = int(timeout_s)
        timeval = struct.pack("ll", seconds, int((timeout_s - seconds) * 1_000_000))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        sock.settimeout(None)

    def close(self) -> None:
        """Disconnect every thread's connection (a later call connects again)."""
        with self._lock:
            made = list(self._made)
        for connection in made:
            connection.disconnect()


class ScriptCaller:
    """Runs one Lua script on the server of ``connections``."""

    def __init__(self, connections: ThreadConnections, script: str) -> None:
        self._connections = connections
        self._script = script
        self._sha = hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 (Redis names scripts by SHA-1)

    def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """The script's reply (bytes, ints, lists of them, None for Lua's false)."""
        connection = self._connections.mine()
        try:
            return self._run(connection, keys, args)
        except (RedisConnectionError, RedisTimeoutError):
            # Once more, reconnected, as redis-py retries (a restarted server, an idle
            # connection it closed): begin and finish may run twice for one owner.
            return self._run(connection, keys, args)

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
