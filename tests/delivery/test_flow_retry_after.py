"""A 429's Retry-After holds the whole fleet's calls to the team, not only the message that got it."""

from __future__ import annotations

import pytest

from tests.delivery.conftest import Stack
from tests.support.waiting import wait_for

MESSAGES = 600
RETRY_AFTER_S = 3


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_after_a_429_with_retry_after_no_worker_calls_until_it_is_over(stack: Stack) -> None:
    stack.emulator.set_faults(latency_ms=20, script={"*": [{"status": 429, "retry_after": RETRY_AFTER_S}]})
    for _ in range(2):
        stack.start_worker(concurrency=8)
    for n in range(MESSAGES):
        stack.identify({"email": f"pace{n}@example.com"})
    wait_for(lambda: len(stack.emulator.contacts()) == MESSAGES, timeout=120, interval=0.3, what="all delivered")

    entries = stack.emulator.requests()
    (pushed,) = [e["timestamp"] for e in entries if e["status"] == 429]
    # The other process reads the fleet's "not before" within 0.5 s; from 1 s on, nobody calls until it is over.
    quiet = [e for e in entries if pushed + 1.0 < e["timestamp"] < pushed + RETRY_AFTER_S - 0.2]
    assert quiet == []
    assert any(e["timestamp"] >= pushed + RETRY_AFTER_S - 0.2 for e in entries)
    assert stack.dead_letters() == []
