"""A SendX outage with two worker processes: the fleet stops calling, one probe tests SendX, then it drains.

The emulator first refuses connections (the breaker opens), then answers 503 to every
request (each one that arrives is a probe: counted in the emulator's stats), then
recovers. Nothing is dead-lettered and every message is delivered afterwards.
"""

from __future__ import annotations

import pytest

from sendx_worker.flow.circuit import Circuit
from tests.delivery.conftest import Stack
from tests.support.circuits import fleet_circuit
from tests.support.waiting import wait_for

MESSAGES = 200
FLOW_ENV = {
    "SENDX_BREAKER_OPEN_S": "1",
    "SENDX_BREAKER_OPEN_MAX_S": "2",
    "SENDX_HOLD_S": "3",
}


def _circuit(stack: Stack) -> Circuit:
    return fleet_circuit({**stack.env, **FLOW_ENV})


def _503s(stack: Stack) -> int:
    return int(stack.emulator.stats()["by_status"].get("503", 0))


@pytest.mark.timeout(300)
def test_during_an_outage_only_probes_reach_sendx_and_the_backlog_drains_after(stack: Stack) -> None:
    stack.emulator.set_faults(outage="refuse")
    for _ in range(2):
        stack.start_worker(concurrency=8, **FLOW_ENV)
    for n in range(MESSAGES):
        stack.identify({"email": f"outage{n}@example.com", "firstName": "Out"})

    # Once a probe has failed, every process has read the open circuit (each reads it every
    # 0.5 s; the first probe goes at least 0.8 s after it opened): from here on only probes call.
    wait_for(lambda: _circuit(stack).opens >= 2, timeout=60, interval=0.2, what="the circuit open, a probe failed")
    stack.emulator.set_faults(outage=None, error_rate=1.0, error_status=503)
    opens_before = _circuit(stack).opens
    # Three failed probes in the 503 phase: the circuit stayed open, reopening each time.
    wait_for(lambda: _503s(stack) >= 3, timeout=60, interval=0.2, what="three probes answered 503")
    seen = _503s(stack)
    circuit = _circuit(stack)
    assert circuit.is_open
    # Every request that reached SendX was a probe: one per open interval, not one per message.
    # (A probe that had already been refused may have reopened it just before the switch: + 1.)
    assert seen <= circuit.opens - opens_before + 1, (seen, opens_before, circuit)
    assert not stack.emulator.contacts()

    stack.emulator.set_faults(error_rate=0.0)
    wait_for(
        lambda: len(stack.emulator.contacts()) == MESSAGES, timeout=120, interval=0.3, what="every contact delivered"
    )
    assert not _circuit(stack).is_open
    assert stack.dead_letters() == []
    # One log line per transition, never one per message: it opened once, and closed once.
    logs = [w.output.text() if w.output else "" for w in stack.workers]
    assert sum(log.count("circuit opened") for log in logs) == 1
    assert sum(log.count("circuit closed") for log in logs) == 1


@pytest.mark.parametrize("broker", ["filesystem"], indirect=True)
def test_an_outage_longer_than_the_retry_window_costs_no_message_its_window(stack: Stack) -> None:
    stack.env["SENDX_RETRY_WINDOW_S"] = "4"
    stack.emulator.set_faults(outage="refuse")
    stack.start_worker(concurrency=4, **FLOW_ENV)
    for n in range(40):
        stack.identify({"email": f"window{n}@example.com"})
    # Four intervals open (1 + 2 + 2 + 2 s, jittered): longer than the 4 s window.
    wait_for(lambda: _circuit(stack).opens >= 5, timeout=60, interval=0.2, what="four failed probes")
    stack.emulator.set_faults(outage=None)
    wait_for(lambda: len(stack.emulator.contacts()) == 40, timeout=60, interval=0.3, what="every contact delivered")
    assert stack.dead_letters() == []
