"""The circuit breaker and the adaptive limit, as the console shows them.

The shared breaker and the adaptive rate arrive with issue 13, built on the state
store (:mod:`sendx_worker.state`). Until then :func:`breaker_status` says "not
available", the overview shows that, and replay jobs never see it open. Issue 13
replaces the body of :func:`breaker_status`; the panel and the replay job's stop
already read only :class:`BreakerStatus`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from ..settings import Settings

__all__ = ["BreakerProvider", "BreakerState", "BreakerStatus", "breaker_status"]

BreakerState = Literal["closed", "open", "half-open"]


@dataclass(frozen=True)
class BreakerStatus:
    """What the overview's breaker panel shows, and what stops a replay job."""

    available: bool
    state: BreakerState | None = None
    #: The adaptive limit of calls in flight to SendX (per team, fleet-wide), if known.
    limit: float | None = None
    detail: str = ""
    #: More facts for the panel, label -> value (per team, last opened at, ...).
    facts: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        """True when the breaker is known to be open: replay jobs stop."""
        return self.available and self.state == "open"


BreakerProvider = Callable[[], BreakerStatus]

NOT_AVAILABLE = BreakerStatus(
    available=False, detail="the shared circuit breaker and adaptive limit are not in this version yet"
)


def breaker_status(settings: Settings) -> BreakerStatus:
    """The fleet's circuit breaker and adaptive limit for ``settings``' state store."""
    return NOT_AVAILABLE
