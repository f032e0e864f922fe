"""Additive increase, multiplicative decrease of a concurrency limit (TCP's congestion control, for calls).

Pure numbers; the clock is passed in. A process starts, and after the circuit closes
restarts, at ``start`` and doubles per round of successes (slow start: +1 per success) up to
``threshold``; past it, it grows by one per round (+1/limit per success). A cut
(429, a timeout) halves it, and sets the threshold there, at most once per
``cooldown_s``: the calls that were already in flight when SendX pushed back
report the same push, and must not halve it again and again.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Aimd"]

DEFAULT_START = 2.0
DEFAULT_COOLDOWN_S = 0.25


@dataclass
class Aimd:
    """A limit in ``[floor, ceiling]``; not thread-safe (its owner locks)."""

    ceiling: float
    floor: float = 1.0
    start: float = DEFAULT_START
    cooldown_s: float = DEFAULT_COOLDOWN_S
    limit: float = 0.0
    threshold: float = 0.0
    _last_cut: float = float("-inf")

    def __post_init__(self) -> None:
        self.ceiling = max(self.ceiling, self.floor)
        if not self.limit:
            # A process starts as after a recovery, low and doubling per round of successes
            # (full width within a few calls' time): one starting into an outage then sends
            # a few calls at a SendX that is down before the breaker opens, not its full width.
            self.limit = max(self.floor, min(self.start, self.ceiling))
        self.threshold = self.threshold or self.ceiling

    @property
    def slots(self) -> int:
        """Whole calls allowed in flight now (at least one)."""
        return max(1, int(self.limit))

    def succeeded(self) -> None:
        """A call went through: grow."""
        step = 1.0 if self.limit < self.threshold else 1.0 / self.limit
        self.limit = min(self.ceiling, self.limit + step)

    def cut(self, now: float) -> bool:
        """SendX pushed back at ``now``: halve (once per cooldown); True if it did."""
        if now - self._last_cut < self.cooldown_s:
            return False
        self._last_cut = now
        self.limit = max(self.floor, self.limit / 2.0)
        self.threshold = self.limit
        return True

    def restart(self) -> None:
        """The circuit just closed: start low, and climb fast to the ceiling unless SendX pushes back."""
        self.limit = max(self.floor, min(self.start, self.ceiling))
        self.threshold = self.ceiling

    def resize(self, ceiling: float) -> None:
        """A new ceiling (the fleet's share changed); the limit stays within it."""
        self.ceiling = max(ceiling, self.floor)
        self.limit = min(self.limit, self.ceiling)
        self.threshold = min(self.threshold, self.ceiling) if self.threshold < self.ceiling else self.ceiling
