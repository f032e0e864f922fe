"""The token bucket behind the emulator's ``rate_limit``: pure, with an injectable clock.

The bucket holds at most ``burst`` tokens and gains ``rate`` per second; a request takes
one. It starts full, so over any window of ``t`` seconds it accepts at most
``burst + rate * t`` requests, and in the long run ``rate`` per second.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["TokenBucket", "parse_rate", "retry_after_header"]

# Float sums of clock readings land a hair short of a whole token: count such a hair as one.
_EPSILON = 1e-9


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` kept; not thread-safe (Faults holds a lock)."""

    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        burst = max(rate, 1.0) if burst is None else burst
        if not rate > 0:
            raise ValueError("rate_limit: must be a number of requests per second > 0")
        if not burst >= 1:
            raise ValueError("rate_limit_burst: must be a number >= 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()

    def take(self) -> float:
        """Take a token: 0.0 when one was there, else the seconds until one will be (nothing taken)."""
        now = self._clock()
        # A clock that steps back adds nothing rather than removing tokens.
        self._tokens = min(self.burst, self._tokens + max(now - self._at, 0.0) * self.rate)
        self._at = max(now, self._at)
        if self._tokens >= 1 - _EPSILON:
            self._tokens = max(self._tokens - 1, 0.0)
            return 0.0
        return (1 - self._tokens) / self.rate


def parse_rate(value: object, name: str = "rate_limit") -> float | None:
    """A rate from ``200``, ``200.5``, ``"200"`` or ``"200/s"``; None stays None (no limit).

    Raises ValueError naming ``name`` for anything else, zero and negatives included.
    """
    if value is None:
        return None
    number: object = value
    if isinstance(value, str):
        text = value.strip().lower().removesuffix("/s").strip()
        try:
            number = float(text)
        except ValueError:
            number = None
    if isinstance(number, int | float) and not isinstance(number, bool) and math.isfinite(number) and number > 0:
        return float(number)
    raise ValueError(f"{name}: must be a number of requests per second > 0 (200 or '200/s') or null, not {value!r}")


def retry_after_header(wait_s: float) -> str:
    """``Retry-After`` for a wait: whole seconds, rounded up, at least 1 (a client retrying at 0 just fails)."""
    return str(max(1, math.ceil(wait_s)))
