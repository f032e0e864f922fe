"""``SENDX_RATE_LIMIT``: a token bucket per team in each process, holding its share of the fleet's rate.

The share is the rate divided by the live processes (counted in the store every
10 s, see :mod:`.gate`), so the fleet as a whole stays near the limit with no store
round trip per call. A bucket holds at most a tenth of a second of calls (at least
one), so a process that was idle does not burst past its share.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["TokenBucket"]

BURST_S = 0.1


class TokenBucket:
    """Tokens at ``rate`` per second; :meth:`take` says how long to wait for one. Thread-safe."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.rate = rate
        self._tokens = self.capacity
        self._at = clock()

    @property
    def capacity(self) -> float:
        """The most tokens the bucket holds."""
        return max(1.0, self.rate * BURST_S)

    def take(self) -> float:
        """Take a token: 0 if one was there, else the seconds until it is (the token is spoken for)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def resize(self, rate: float) -> None:
        """A new share of the fleet's rate."""
        with self._lock:
            self.rate = rate
            self._tokens = min(self._tokens, self.capacity)
