"""Counting how often a message has been handed to a worker, to catch poison.

A message whose handling kills the worker process is redelivered after every
crash; without a count it would kill workers forever. RabbitMQ's quorum queues
count for us (the ``x-delivery-count`` header); on Redis the count lives in Redis
itself, and on the embedded broker in files next to the queue.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import Any, Protocol

__all__ = ["DeliveryCounter", "FileDeliveryCounter", "RedisDeliveryCounter", "broker_delivery_count", "delivery_key"]

# Counts are kept a week: far longer than any message stays unacknowledged.
COUNT_TTL_S = 7 * 24 * 3600


def delivery_key(task_id: str, retries: int) -> str:
    """A key per delivery generation: a retry is a new message with the same task id."""
    return f"{task_id}.{retries}"


def broker_delivery_count(redelivered: Any, header: Any) -> int:
    """Which delivery of a message this is, by RabbitMQ's ``x-delivery-count`` header.

    RabbitMQ sets the header only when it redelivers a message, and then overwrites
    whatever the publisher put there; so on a first delivery (``redelivered`` false) a
    header is the publisher's and means nothing: a forged ``x-delivery-count: 99`` must
    not condemn a valid message. A redelivery is at least the second delivery.
    """
    if not redelivered:
        return 1
    count = header if isinstance(header, int) and not isinstance(header, bool) else 0
    return max(count, 1) + 1


class DeliveryCounter(Protocol):
    """Counts the times a message started running, surviving worker crashes."""

    def started(self, key: str) -> int:
        """Record one more start of ``key``; return how many there have been."""

    def finished(self, key: str) -> None:
        """Forget ``key``: its message was acknowledged."""


# KEYS[1] the count; ARGV[1] its time to live in seconds.
_STARTED = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return count
"""
_FINISHED = "return redis.call('DEL', KEYS[1])"


class RedisDeliveryCounter:
    """Counts in the Redis the broker already uses.

    Each task starts and finishes a count, so each is one script in one round trip on
    the state store's fast path (:mod:`sendx_worker.state.redis_calls`): through
    redis-py's pipeline and command machinery the two cost ~11 % of a worker's CPU on a
    Redis broker (``python -m bench profile --broker redis``).
    """

    def __init__(self, client: Any) -> None:
        from ..state.redis_calls import IdleConnections, ScriptCaller

        connections = IdleConnections(client)
        self._started = ScriptCaller(connections, _STARTED)
        self._finished = ScriptCaller(connections, _FINISHED)

    def started(self, key: str) -> int:
        return int(self._started([f"sendx:deliveries:{key}"], [COUNT_TTL_S]))

    def finished(self, key: str) -> None:
        self._finished([f"sendx:deliveries:{key}"], [])


class FileDeliveryCounter:
    """Counts in one small file per message, for the single-host embedded broker."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def started(self, key: str) -> int:
        path = self._path(key)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.read(fd, 32)
            count = (int(raw) if raw.isdigit() else 0) + 1
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, str(count).encode())
            os.fsync(fd)
            return count
        finally:
            os.close(fd)

    def finished(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        # The key holds a task id, which the message's producer chose: hashed, no id
        # can name a file outside the folder ("../x") or one too long for the system.
        return self._folder / hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
