"""Slots for calls in flight, as many as an :class:`~.aimd.Aimd` limit allows; threads wait on a condition."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .aimd import Aimd

__all__ = ["Limiter"]


class Limiter:
    """One process's slots for one team; thread-safe."""

    def __init__(self, aimd: Aimd, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.aimd = aimd
        self.in_flight = 0
        self.cond = threading.Condition()
        self._clock = clock

    def try_take(self) -> bool:
        """Take a slot if one is free (the caller holds ``cond``)."""
        if self.in_flight < self.aimd.slots:
            self.in_flight += 1
            return True
        return False

    def give_back(self) -> None:
        """Free a slot and wake a waiter."""
        with self.cond:
            self.in_flight -= 1
            self.cond.notify()

    def succeeded(self) -> bool:
        """A call went through; True when a slot was added."""
        with self.cond:
            before = self.aimd.slots
            self.aimd.succeeded()
            if self.aimd.slots > before:
                self.cond.notify(self.aimd.slots - before)
                return True
            return False

    def at_floor(self) -> bool:
        """True when the limit is as low as it goes: SendX pushing back now refuses the slowest pace."""
        with self.cond:
            return self.aimd.limit <= self.aimd.floor

    def cut(self) -> bool:
        """SendX pushed back; True if the limit fell."""
        with self.cond:
            return self.aimd.cut(self._clock())

    def restart(self) -> None:
        """Start low again (the circuit closed)."""
        with self.cond:
            self.aimd.restart()
