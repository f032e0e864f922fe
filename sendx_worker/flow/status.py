"""The fleet's circuits as the store holds them, for ``sendx-worker check`` and the console."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigurationError, StoreUnavailable
from ..proxies import redact_url
from ..settings import Settings
from ..state import open_store
from .breaker import BreakerPolicy, SharedBreaker
from .circuit import Circuit

__all__ = ["TeamCircuit", "circuit_check", "read_circuits"]

Verdict = Literal["ok", "FAIL", "warn", "skip"]


@dataclass(frozen=True)
class TeamCircuit:
    """One team's circuit as the fleet shares it."""

    team: str | None
    circuit: Circuit
    probing: bool
    not_before: float

    @property
    def state(self) -> Literal["closed", "open", "half-open"]:
        """closed, open, or half-open (a probe is testing SendX)."""
        if not self.circuit.is_open:
            return "closed"
        return "half-open" if self.probing else "open"

    def describe(self, now: float) -> str:
        """``team default: open for 42 s (transient), next probe in 18 s``."""
        name = f"team {self.team}" if self.team else "default team"
        if self.state == "closed":
            held = f", calls held {self.not_before - now:.0f} s more (Retry-After)" if self.not_before > now else ""
            return f"{name}: closed{held}"
        since = f"{self.state} for {now - self.circuit.since:.0f} s ({self.circuit.reason or 'transient'})"
        if self.probing:
            return f"{name}: {since}, a probe is testing SendX"
        return f"{name}: {since}, next probe in {max(0.0, self.circuit.retry_at - now):.0f} s"


def read_circuits(settings: Settings) -> list[TeamCircuit]:
    """Every configured team's circuit; raises StoreUnavailable or ConfigurationError."""
    url = settings.effective_state_url
    if url is None:
        raise ConfigurationError("SENDX_STATE_URL", "is not set: each worker keeps its own circuit breaker")
    store = open_store(url)
    try:
        policy = BreakerPolicy(settings.flow.open_s, settings.flow.open_max_s, settings.timeout_s)
        named: list[str | None] = list(sorted(settings.teams))
        teams = [None, *named] if settings.api_key else named
        found = []
        for team in teams or [None]:
            breaker = SharedBreaker(store, team, policy)
            found.append(TeamCircuit(team, breaker.read()[1], breaker.probing(), breaker.not_before()))
        return found
    finally:
        store.close()


def circuit_check(settings: Settings) -> tuple[Verdict, str]:
    """The ``circuit`` line of ``sendx-worker check``: FAIL while a team's circuit is open."""
    if not settings.flow.enabled:
        return "skip", "SENDX_FLOW_CONTROL=off: no circuit breaker, no adaptive limit"
    try:
        circuits = read_circuits(settings)
    except ConfigurationError as exc:
        return "warn", str(exc)
    except StoreUnavailable as exc:
        url = redact_url(settings.effective_state_url or "")
        return "FAIL", f"{url}: {exc}; each worker stands in with its own breaker"
    now = time.time()
    verdict: Verdict = "FAIL" if any(c.circuit.is_open for c in circuits) else "ok"
    return verdict, "; ".join(c.describe(now) for c in circuits)
