"""Nothing is lost when a worker is killed, a message kills workers, or the broker restarts."""

from __future__ import annotations

import pytest

from tests.delivery.conftest import Stack
from tests.support.poison_hook import POISON_EMAIL
from tests.support.waiting import wait_for

CONTACTS = 500


def undelivered(stack: Stack, emails: list[str]) -> list[str]:
    return [email for email in emails if stack.emulator.contact(email) is None]


@pytest.mark.timeout(300)
def test_a_worker_killed_mid_run_loses_nothing(stack: Stack) -> None:
    stack.emulator.set_faults(latency_ms=50)
    emails = [f"k{i}@example.com" for i in range(CONTACTS)]
    for email in emails:
        stack.identify({"email": email, "tags": ["Signup"]})
    first = stack.start_worker(concurrency=8)
    wait_for(lambda: stack.emulator.stats()["requests"] >= CONTACTS // 5, what="a fifth delivered")
    first.kill()
    assert len(undelivered(stack, emails)) > 0, "the worker finished before it was killed"
    stack.start_worker(concurrency=16)
    # On every broker, including Redis (reliable_redis.py closes kombu's window
    # between taking a message and recording it as unacknowledged).
    wait_for(lambda: not undelivered(stack, emails), timeout=150, interval=0.5, what="every contact delivered")
    assert stack.dead_letters() == []


def test_sigterm_lets_in_flight_tasks_finish_or_go_back(stack: Stack) -> None:
    stack.emulator.set_faults(latency_ms=200)
    emails = [f"t{i}@example.com" for i in range(60)]
    for email in emails:
        stack.identify({"email": email})
    first = stack.start_worker(concurrency=8)
    wait_for(lambda: stack.emulator.stats()["requests"] >= 8, what="tasks in flight")
    assert first.stop(timeout=60) == 0
    stack.start_worker(concurrency=16)
    wait_for(lambda: not undelivered(stack, emails), timeout=90, what="every contact delivered")
    assert stack.dead_letters() == []


def test_a_message_that_kills_every_worker_ends_as_poison(stack: Stack) -> None:
    stack.identify({"email": POISON_EMAIL})
    env = {"SENDX_MAX_DELIVERIES": "2"}
    for _ in range(2):
        worker = stack.start_worker(
            concurrency=2, wait_ready=False, **env, extra_args=("-I", "tests.support.poison_hook")
        )
        wait_for(worker.exited, timeout=90, what="the poison message to kill the worker")
        assert worker.process is not None and worker.process.returncode != 0
    stack.start_worker(concurrency=2, **env, extra_args=("-I", "tests.support.poison_hook"))
    (record,) = stack.wait_dead_letters(1, timeout=90)
    assert record.reason == "poison"
    assert record.payload == {"email": POISON_EMAIL}
    stack.identify({"email": "after@example.com"})
    stack.wait_contact("after@example.com")
