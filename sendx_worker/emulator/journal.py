"""The request log (bounded) and the cheap counters benchmarks read."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

__all__ = ["DEFAULT_LOG_SIZE", "Journal"]

# Enough for any test to see everything, small enough (~100 MB at worst) for a long benchmark.
DEFAULT_LOG_SIZE = 100_000


class Journal:
    """What the emulator received: the last ``size`` requests, and counters over all of them."""

    def __init__(self, size: int = DEFAULT_LOG_SIZE) -> None:
        if size < 1:
            raise ValueError("log_size: must be at least 1")
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._by_status: Counter[str] = Counter()
        self._count = 0
        self._rate_limited = 0
        self._first_at: float | None = None
        self._last_at: float | None = None

    def record(self, entry: dict[str, Any], *, rate_limited: bool = False) -> None:
        """Keep one request's entry; it must hold ``status`` (None: dropped) and ``timestamp``.

        ``rate_limited``: answered 429 by the token bucket (counted apart from scripted 429s).
        """
        status = entry["status"]
        with self._lock:
            self._rate_limited += rate_limited
            self._entries.append(entry)
            self._by_status["reset" if status is None else str(status)] += 1
            self._count += 1
            if self._first_at is None:
                self._first_at = entry["timestamp"]
            self._last_at = entry["timestamp"]

    def entries(self) -> list[dict[str, Any]]:
        """The kept entries, oldest first (the entries themselves are shared: do not mutate)."""
        with self._lock:
            return list(self._entries)

    def stats(self) -> dict[str, Any]:
        """``{"requests", "first_at", "last_at", "by_status", "rate_limited"}``; O(distinct statuses)."""
        with self._lock:
            return {
                "requests": self._count,
                "first_at": self._first_at,
                "last_at": self._last_at,
                "by_status": dict(self._by_status),
                "rate_limited": self._rate_limited,
            }

    def clear(self) -> None:
        """Forget every entry and zero the counters."""
        with self._lock:
            self._entries.clear()
            self._by_status.clear()
            self._count = self._rate_limited = 0
            self._first_at = self._last_at = None
