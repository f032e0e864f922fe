"""Nothing is lost when a worker is killed, a message kills workers, or the broker restarts."""

from __future__ import annotations

import pytest

from tests.delivery.conftest import Stack
from tests.support.die_after_call_hook import DIES_AFTER_CALL_EMAIL
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
    # On every broker, including Redis (reliable_redis closes kombu's window
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


@pytest.mark.timeout(300)
def test_increments_are_not_resent_after_a_worker_died_having_called_sendx(stack: Stack) -> None:
    hook = ("-I", "tests.support.die_after_call_hook")
    first = stack.start_worker(concurrency=2, wait_ready=False, extra_args=hook)
    stack.identify({"email": DIES_AFTER_CALL_EMAIL, "firstName": "Twyla", "customFields": {"Logins": "++1"}})
    wait_for(first.exited, timeout=90, what="the worker to die after its call")
    stack.wait_contact(DIES_AFTER_CALL_EMAIL, customFields={"Logins": "1"})  # the call did reach SendX

    stack.start_worker(concurrency=2, extra_args=hook)
    (record,) = stack.wait_dead_letters(1, timeout=120)
    assert record.reason == "ambiguous_increment"
    assert record.payload == {"email": DIES_AFTER_CALL_EMAIL, "customFields": {"Logins": "++1"}}
    assert "did not finish" in (record.error or "")
    wait_for(lambda: len(stack.api_requests(DIES_AFTER_CALL_EMAIL)) >= 2, what="the redelivery's call")
    again = stack.api_requests(DIES_AFTER_CALL_EMAIL)[1]
    assert again["body"]["firstName"] == "Twyla"
    assert "Logins" not in again["body"].get("customFields", {})
    assert stack.emulator.contact(DIES_AFTER_CALL_EMAIL)["customFields"] == {"Logins": "1"}
