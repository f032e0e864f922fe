"""The fleet's circuit as the workers left it in their state store, for flow-control tests."""

from __future__ import annotations

from collections.abc import Mapping

from sendx_worker import load_settings
from sendx_worker.flow.breaker import BreakerPolicy, SharedBreaker
from sendx_worker.flow.circuit import Circuit
from sendx_worker.state import open_store

__all__ = ["fleet_circuit"]


def fleet_circuit(env: Mapping[str, str]) -> Circuit:
    """The default team's circuit in the state store that ``env``'s workers use."""
    url = load_settings(dict(env)).effective_state_url
    assert url is not None
    store = open_store(url)
    try:
        return SharedBreaker(store, None, BreakerPolicy(1, 2, 5)).read()[1]
    finally:
        store.close()
