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


class RedisDeliveryCounter:
    """Counts in the Redis the broker already uses."""

    def __init__(self, client: Any) -> None:
        self._redis = client

    def started(self, key: str) -> int:
        # No MULTI/EXEC: INCR is atomic by itself, and the EXPIRE only has to follow it.
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(f"sendx:deliveries:{key}")
        pipe.expire(f"sendx:deliveries:{key}", COUNT_TTL_S)
        count, _ = pipe.execute()
        return int(count)

    def finished(self, key: str) -> None:
        self._redis.delete(f"sendx:deliveries:{key}")


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
