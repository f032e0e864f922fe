"""The circuit breaker's rules as pure functions of numbers: no store, no clock, no randomness.

A team's circuit is *closed* (calls go) or *open* (no call goes; after ``retry_at``
one probe may). It opens on a clear run of transient failures (:class:`FailureWindow`);
an open interval is ``open_s`` doubled per failed probe up to ``open_max_s``, shortened
by up to :data:`JITTER` so that fleets opened together do not probe in step. Only a
probe's success closes it. ``since`` is when it last opened (kept across failed probes).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CLOSED",
    "JITTER",
    "Circuit",
    "FailureWindow",
    "open_interval",
    "probe_failed",
    "tripped",
]

#: An open interval is shortened by up to this fraction (its jitter).
JITTER = 0.2
#: The rate rule: at least half of the last WINDOW calls failed, with at least MIN_CALLS calls seen.
WINDOW = 40
MIN_CALLS = 20
FAILURE_RATIO = 0.5


@dataclass(frozen=True)
class Circuit:
    """One team's circuit as the store keeps it (JSON)."""

    state: Literal["closed", "open"] = "closed"
    #: When it opened (open), or 0.
    since: float = 0.0
    #: When a probe may go (open), or 0.
    retry_at: float = 0.0
    #: How many intervals it has been open in a row (1 after tripping, +1 per failed probe).
    opens: int = 0
    #: Why it opened: "transient" (outage, overload) or "auth" (SendX rejects the credentials).
    reason: str = ""

    @property
    def is_open(self) -> bool:
        """True while no call but a probe may go."""
        return self.state == "open"

    def encode(self) -> str:
        """The store's text of this circuit."""
        return json.dumps(
            {
                "state": self.state,
                "since": self.since,
                "retry_at": self.retry_at,
                "opens": self.opens,
                "reason": self.reason,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, raw: str | None) -> Circuit:
        """The circuit from the store's text; absent or unreadable text is a closed circuit."""
        if raw is None:
            return CLOSED
        try:
            data = json.loads(raw)
            state: Literal["closed", "open"] = "open" if data["state"] == "open" else "closed"
            return cls(state, float(data["since"]), float(data["retry_at"]), int(data["opens"]), str(data["reason"]))
        except (ValueError, KeyError, TypeError):
            return CLOSED


CLOSED = Circuit()


def open_interval(opens: int, *, open_s: float, open_max_s: float, jitter: float) -> float:
    """Seconds the ``opens``-th interval in a row lasts: ``open_s`` doubling to ``open_max_s``, jittered.

    ``jitter`` in [0, 1) takes up to :data:`JITTER` of it away, so the result lies in
    ``[(1 - JITTER) * open_s, open_max_s]``.
    """
    base = min(open_max_s, open_s * 2.0 ** min(max(opens, 1) - 1, 32))
    return base * (1.0 - JITTER * min(max(jitter, 0.0), 1.0))


def tripped(now: float, *, open_s: float, open_max_s: float, jitter: float, reason: str = "transient") -> Circuit:
    """The circuit just opened at ``now``."""
    interval = open_interval(1, open_s=open_s, open_max_s=open_max_s, jitter=jitter)
    return Circuit("open", since=now, retry_at=now + interval, opens=1, reason=reason)


def probe_failed(circuit: Circuit, now: float, *, open_s: float, open_max_s: float, jitter: float) -> Circuit:
    """``circuit`` after its probe failed at ``now``: open for the next, longer interval."""
    opens = circuit.opens + 1
    interval = open_interval(opens, open_s=open_s, open_max_s=open_max_s, jitter=jitter)
    return Circuit("open", since=circuit.since or now, retry_at=now + interval, opens=opens, reason=circuit.reason)


class FailureWindow:
    """One process's recent calls to one team: says when they make a clear run of failures.

    Not thread-safe: its owner holds a lock. Counted per process, so that a call on the
    happy path costs no store round trip; any one process seeing the run opens the
    circuit for the whole fleet.
    """

    def __init__(self, failures: int, *, window: int = WINDOW, min_calls: int = MIN_CALLS) -> None:
        self.failures = failures
        self.min_calls = min_calls
        self.in_a_row = 0
        self._recent: deque[bool] = deque(maxlen=window)
        self._failed = 0

    def record(self, ok: bool) -> bool:
        """Count one call; True when the failures so far should open the circuit."""
        if len(self._recent) == self._recent.maxlen and not self._recent[0]:
            self._failed -= 1
        self._recent.append(ok)
        if ok:
            self.in_a_row = 0
            return False
        self._failed += 1
        self.in_a_row += 1
        if self.in_a_row >= self.failures:
            return True
        return len(self._recent) >= self.min_calls and self._failed >= FAILURE_RATIO * len(self._recent)

    def reset(self) -> None:
        """Forget every call (the circuit changed state)."""
        self.in_a_row = 0
        self._recent.clear()
        self._failed = 0
