"""A Lua script run in one round trip on a connection of the calling thread's own.

Ordering runs two scripts per delivered task (a contact's begin and finish), and with
64 threads redis-py's command path cost about as much CPU as the call to SendX around
it (issue 12: ~17 % of a worker's GIL samples): the connection pool's lock and pid
check on every command, its argument encoder, the retry and observability wrappers,
``Script.__call__``'s ``EVALSHA`` wrapper. Here each thread keeps one connection of
the client's pool for good, the request is packed directly, and the reply is read by
redis-py's own parser; what redis-py would have done about failures stays: a stale
connection (Redis restarted, an idle one closed) is reconnected and the call tried
once more, and a script the server does not know yet is sent whole (``EVAL``), which
also loads it for the next ``EVALSHA``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["ScriptCaller", "pack"]


def _bulk(value: Any) -> bytes:
    if isinstance(value, bytes):
        raw = value
    elif isinstance(value, str):
        raw = value.encode()  # strict UTF-8, as redis-py's encoder
    elif isinstance(value, int | float) and not isinstance(value, bool):
        raw = repr(value).encode()
    else:
        raise TypeError(f"cannot send a {type(value).__name__} to Redis")
    return b"$%d\r\n%s\r\n" % (len(raw), raw)


def pack(*parts: Any) -> bytes:
    """One Redis command in RESP: an array of bulk strings."""
    return b"*%d\r\n" % len(parts) + b"".join(_bulk(part) for part in parts)


class ScriptCaller:
    """Runs one Lua script on ``client``'s server, a connection per thread."""

    def __init__(self, client: Any, script: str) -> None:
        self._pool = client.connection_pool
        self._script = script
        self._sha = hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 (Redis names scripts by SHA-1)
        self._local = threading.local()

    def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """The script's reply (bytes, ints, lists of them, None for Lua's false)."""
        try:
            return self._run(keys, args)
        except (RedisConnectionError, RedisTimeoutError):
            self._drop()
            return self._run(keys, args)  # once more, on a new connection, as redis-py retries

    def _run(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        connection = self._connection()
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

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # Taken from the pool and never given back: the pool still closes it
            # (ConnectionPool.disconnect closes connections in use too).
            connection = self._local.connection = self._pool.get_connection()
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.disconnect()
