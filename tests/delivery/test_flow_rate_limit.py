"""SendX limiting the rate (the emulator's token bucket): the fleet slows to it and loses nothing.

How close the delivered rate comes to the limit, and the share of 429s, are figures
for bench/ (``python -m bench ratelimit``), not assertions here.
"""

from __future__ import annotations

import pytest

from tests.delivery.conftest import Stack
from tests.support.waiting import wait_for

MESSAGES = 300
RATE = 100


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"], indirect=True)
def test_against_a_rate_limited_sendx_two_workers_deliver_everything_and_dead_letter_nothing(stack: Stack) -> None:
    stack.emulator.set_faults(rate_limit=RATE)
    for _ in range(2):
        stack.start_worker(concurrency=8)
    for n in range(MESSAGES):
        stack.identify({"email": f"rate{n}@example.com"})
    wait_for(lambda: len(stack.emulator.contacts()) == MESSAGES, timeout=120, interval=0.3, what="all delivered")
    assert stack.dead_letters() == []
    stats = stack.emulator.stats()
    # The fleet backs off on the first 429s (its limit halves, Retry-After holds every process):
    # fewer 429s than messages, where each message retrying alone would meet several.
    assert stats["by_status"].get("429", 0) < MESSAGES, stats
