"""The state store in this process's memory: for tests and the testing kit.

Nothing is shared with other processes, so it orders and deduplicates only the
deliveries of one worker process (``SENDX_STATE_URL=memory://``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .contact import ContactState, Pending
from .entry import LEASE_OWNER, begun_entry, finished_entry, lease_free_for, state_of

__all__ = ["MemoryStore"]


class MemoryStore:
    """A :class:`~sendx_worker.state.base.StateStore` in dicts, behind one lock."""

    display_url = "memory://"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (value or entry, expires at or None)
        self._values: dict[str, tuple[str, float | None]] = {}
        self._entries: dict[str, tuple[dict[str, Any], float]] = {}

    # --- contacts -------------------------------------------------------------------

    def begin(
        self, key: str, owner: str, *, lease_s: float, keep_s: float, event: str, mark: Pending
    ) -> ContactState | None:
        with self._lock:
            now = self._clock()
            entry = self._entry(key, now)
            if not lease_free_for(entry, owner, now):
                return None
            begun = begun_entry(entry, owner, now + lease_s, event, mark)
            self._entries[key] = (begun, max(self._entries.get(key, ({}, 0.0))[1], now + keep_s))
            return state_of(begun)

    def finish(self, key: str, owner: str, state: ContactState, *, keep_s: float) -> bool:
        with self._lock:
            now = self._clock()
            if self._entry(key, now).get(LEASE_OWNER) != owner:
                return False
            self._entries[key] = (finished_entry(state), now + keep_s)
            return True

    def peek(self, key: str) -> ContactState | None:
        with self._lock:
            entry = self._entry(key, self._clock())
            return state_of(entry) if entry else None

    def _entry(self, key: str, now: float) -> dict[str, Any]:
        found = self._entries.get(key)
        if found is None or found[1] <= now:
            return {}
        return found[0]

    # --- values -----------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._value(key, self._clock())

    def compare_and_set(self, key: str, expected: str | None, new: str, *, ttl_s: float | None = None) -> bool:
        with self._lock:
            now = self._clock()
            if self._value(key, now) != expected:
                return False
            self._values[key] = (new, now + ttl_s if ttl_s is not None else None)
            return True

    def incr(self, key: str, by: int = 1, *, ttl_s: float | None = None) -> int:
        with self._lock:
            now = self._clock()
            current = self._value(key, now)
            total = int(current or 0) + by
            expires = now + ttl_s if ttl_s is not None else self._values.get(key, ("", None))[1]
            self._values[key] = (str(total), expires)
            return total

    def acquire(self, key: str, owner: str, *, ttl_s: float) -> bool:
        with self._lock:
            now = self._clock()
            holder = self._value(key, now)
            if holder is not None and holder != owner:
                return False
            self._values[key] = (owner, now + ttl_s)
            return True

    def release(self, key: str, owner: str) -> bool:
        with self._lock:
            if self._value(key, self._clock()) != owner:
                return False
            del self._values[key]
            return True

    def delete(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)

    def purge_expired(self) -> int:
        with self._lock:
            now = self._clock()
            gone = [k for k, (_, expires) in self._values.items() if expires is not None and expires <= now]
            gone_entries = [k for k, (_, expires) in self._entries.items() if expires <= now]
            for key in gone:
                del self._values[key]
            for key in gone_entries:
                del self._entries[key]
            return len(gone) + len(gone_entries)

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None

    def _value(self, key: str, now: float) -> str | None:
        found = self._values.get(key)
        if found is None:
            return None
        value, expires = found
        if expires is not None and expires <= now:
            del self._values[key]
            return None
        return value
