"""SendX rejecting the key opens the team's circuit: a bad key costs a probe per interval, not a call per message."""

from __future__ import annotations

import pytest

from sendx_worker.flow.circuit import Circuit
from tests.delivery.conftest import API_KEY, TEAM_ID, Stack
from tests.support.circuits import fleet_circuit
from tests.support.waiting import wait_for

MESSAGES = 60
FLOW_ENV = {"SENDX_BREAKER_OPEN_S": "1", "SENDX_BREAKER_OPEN_MAX_S": "2", "SENDX_HOLD_S": "3"}


def _circuit(stack: Stack) -> Circuit:
    return fleet_circuit(stack.env)


def _401s(stack: Stack) -> int:
    return int(stack.emulator.stats()["by_status"].get("401", 0))


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_a_rejected_key_opens_the_circuit_and_a_fixed_key_closes_it_at_the_next_probe(stack: Stack) -> None:
    stack.emulator.set_teams({TEAM_ID: "not-the-workers-key"})
    stack.start_worker(concurrency=4, **FLOW_ENV)
    for n in range(MESSAGES):
        stack.identify({"email": f"key{n}@example.com"})

    wait_for(lambda: _circuit(stack).opens >= 2, timeout=60, interval=0.2, what="the circuit open, a probe failed")
    assert _circuit(stack).reason == "auth"
    rejected, opens = _401s(stack), _circuit(stack).opens
    wait_for(lambda: _circuit(stack).opens >= opens + 2, timeout=60, interval=0.2, what="two more failed probes")
    # While open, only probes met the bad key: one per interval, not one per message.
    assert _401s(stack) - rejected <= _circuit(stack).opens - opens + 1
    assert _401s(stack) < MESSAGES

    stack.emulator.set_teams({TEAM_ID: API_KEY})
    wait_for(lambda: len(stack.emulator.contacts()) == MESSAGES, timeout=60, interval=0.3, what="all delivered")
    assert stack.dead_letters() == []
    assert not _circuit(stack).is_open
