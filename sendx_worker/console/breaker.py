"""The circuit breaker and the adaptive limit, as the console shows them.

The fleet's breakers live in the state store (:mod:`sendx_worker.flow`); this reads
them for the overview's panel, and a replay job stops while one is open. The
adaptive limit is each worker process's own (see its metrics), so ``limit`` stays
unknown here. Without flow control or a reachable store the panel says "not available".
"""

from __future__ import annotations

import time
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


def breaker_status(settings: Settings) -> BreakerStatus:
    """The fleet's circuit breakers for ``settings``' state store: the worst team's state, and each team's."""
    if not settings.flow.enabled:
        return BreakerStatus(available=False, detail="SENDX_FLOW_CONTROL=off: no circuit breaker")
    from ..errors import ConfigurationError, StoreUnavailable
    from ..flow.status import read_circuits

    try:
        circuits = read_circuits(settings)
    except (ConfigurationError, StoreUnavailable) as exc:
        return BreakerStatus(available=False, detail=str(exc))
    now = time.time()
    order: dict[BreakerState, int] = {"closed": 0, "half-open": 1, "open": 2}
    worst: BreakerState = max((c.state for c in circuits), key=order.__getitem__, default="closed")
    facts = {(c.team or "default team"): c.describe(now).split(": ", 1)[1] for c in circuits}
    return BreakerStatus(available=True, state=worst, detail=f"{len(circuits)} team(s)", facts=facts)
