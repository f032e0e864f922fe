"""Dead letters on a 3-node RabbitMQ cluster: none lost when a node dies, and a clear word when they can't be read."""

from __future__ import annotations

import pytest
from kombu import Connection

from sendx_worker.deadletter import DeadLetterQueue
from tests.cli.conftest import run_module
from tests.cli.test_cli_dead_migrate import record as a_record
from tests.cluster.conftest import ClusterStack
from tests.delivery.test_dead_letter_durability import declare_classic_dead_letter_queue
from tests.support.waiting import wait_for

# slow: CI runs them, `pytest -m "not slow"` skips them. The first test also waits for the cluster (~30 s).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def rejected_batch(stack: ClusterStack, prefix: str, count: int, every: int) -> tuple[list[str], set[str]]:
    """``count`` identifies, every ``every``-th of which SendX rejects with 422; all enqueued."""
    emails = [f"{prefix}{index}@example.com" for index in range(count)]
    rejected = set(emails[::every])
    script = {**stack.emulator.faults()["script"], **{email: [422] * 10 for email in rejected}}
    stack.emulator.set_faults(script=script)
    for email in emails:
        stack.identify({"email": email, "tags": ["dl"]})
    return emails, rejected


def dead_lettered(stack: ClusterStack) -> set[str]:
    return {r.payload.get("email") for r in stack.dead_letters() if isinstance(r.payload, dict)}


def wait_all_handled(stack: ClusterStack, emails: list[str], rejected: set[str]) -> None:
    def handled() -> bool:
        return rejected <= dead_lettered(stack) and all(
            stack.emulator.contact(email) is not None for email in emails if email not in rejected
        )

    wait_for(handled, timeout=240, interval=1.0, what="every contact delivered or dead-lettered")


def test_no_dead_letter_is_lost_when_the_node_holding_them_dies_then_when_any_node_dies(
    cluster_stack: ClusterStack,
) -> None:
    stack = cluster_stack
    stack.emulator.set_faults(latency_ms=20)
    workers = [stack.start_worker(concurrency=8), stack.start_worker(concurrency=8)]
    holder = stack.holder("sendx.dead_letter")  # declared by the workers at start: a quorum queue
    assert stack.cluster.queues(stack.vhost)["sendx.dead_letter"]["type"] == "quorum"

    emails, rejected = rejected_batch(stack, "a", 300, every=5)
    wait_for(lambda: stack.emulator.stats()["requests"] >= 80, timeout=120, what="80 calls")
    stack.cluster.kill(holder)
    try:
        wait_all_handled(stack, emails, rejected)
    except AssertionError:
        print(stack.emulator.stats(), *(worker.log()[-5000:] for worker in workers))
        raise

    # The node comes back; then another one dies, whichever leads the queue now or not.
    stack.cluster.restart(holder)
    other = next(node for node in stack.cluster.nodes if node is not holder)
    before = stack.emulator.stats()["requests"]
    more, more_rejected = rejected_batch(stack, "b", 150, every=5)
    wait_for(lambda: stack.emulator.stats()["requests"] >= before + 40, timeout=120, what="more calls")
    stack.cluster.kill(other)
    wait_all_handled(stack, more, more_rejected)
    assert {r.reason for r in stack.dead_letters()} == {"rejected"}
    events = ("dead letter not written; set aside", "requeued", "dead-lettered")
    for worker in workers:  # for the record: how the workers lived through it
        print({event: worker.count(event) for event in events})


def test_dead_list_says_when_a_classic_dead_letter_queue_is_unavailable_and_migrate_makes_it_quorum(
    cluster_stack: ClusterStack,
) -> None:
    stack = cluster_stack
    third = stack.cluster.nodes[2]
    # An older version's classic queue, on node 3 (declared through it), holding a record.
    declare_classic_dead_letter_queue(stack.node_url(third))
    record = a_record(1)
    # Confirmed: the broker confirms a persistent message once it is on disk (kill -9 follows).
    with Connection(stack.node_url(third), transport_options={"confirm_publish": True}) as connection:
        DeadLetterQueue(lambda: connection.clone()).add([record])
    env = {**stack.env}

    stack.cluster.kill(third)
    listed = run_module("dead", "list", env=env)
    assert (listed.code, listed.out) == (1, "")
    assert listed.err.count("\n") == 1, listed.err
    assert listed.err.startswith("sendx-worker: error: the dead-letter queue sendx.dead_letter is unavailable: ")
    assert "NOT_FOUND" in listed.err

    stack.cluster.restart(third)
    migrated = run_module("dead", "migrate", env=env)
    assert (migrated.code, migrated.out) == (0, "sendx.dead_letter is now a quorum queue; 1 record(s) kept\n")
    assert stack.cluster.queues(stack.vhost)["sendx.dead_letter"]["type"] == "quorum"
    assert [r.id for r in stack.dead_letters()] == [record.id]
