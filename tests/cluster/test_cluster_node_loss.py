"""Losing a node of a 3-node RabbitMQ cluster (``kill -9`` of its Erlang VM) while workers deliver."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.cluster.conftest import ClusterStack
from tests.support.waiting import wait_for

# slow: CI runs them, `pytest -m "not slow"` skips them. The first test also waits for the cluster (~30 s).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def delivered(stack: ClusterStack, emails: list[str]) -> bool:
    return all(stack.emulator.contact(email) is not None for email in emails)


def test_the_leader_of_sendx_killed_mid_run_loses_nothing(cluster_stack: ClusterStack) -> None:
    stack = cluster_stack
    stack.emulator.set_faults(latency_ms=20)
    workers = [stack.start_worker(concurrency=8), stack.start_worker(concurrency=8)]
    emails = [f"leader{index}@example.com" for index in range(600)]
    for email in emails:
        stack.identify({"email": email, "tags": ["cluster"]})
    wait_for(lambda: stack.emulator.stats()["requests"] >= 150, timeout=120, what="150 deliveries")

    leader = stack.holder("sendx")
    stack.cluster.kill(leader)
    try:
        wait_for(lambda: delivered(stack, emails), timeout=240, interval=0.5, what="every contact delivered")
    except AssertionError:
        print(stack.emulator.stats(), *(worker.log()[-5000:] for worker in workers))  # shown when it fails
        raise
    assert stack.holder("sendx") != leader  # a new leader took over
    assert stack.dead_letters() == []


def test_a_worker_whose_node_dies_is_back_to_delivering_at_once(cluster_stack: ClusterStack) -> None:
    stack = cluster_stack
    first, second, _ = stack.cluster.nodes
    stack.declare_through(second)  # the queues' leader lives on; only the worker's node dies
    for index in range(2000):  # queued first: the worker has work before and after the loss
        stack.identify({"email": f"rec{index}@example.com"})
    stack.emulator.set_faults(latency_ms=50)  # ~160 calls/s for 8 threads: a drain of ~12 s
    worker = stack.start_worker(concurrency=8)  # connects to the first URL: node 1
    wait_for(lambda: stack.emulator.stats()["requests"] >= 300, timeout=120, what="300 deliveries")

    killed_at = time.time()
    stack.cluster.kill(first)
    seen = stack.emulator.stats()["requests"]
    # Beyond the calls in flight on the lost connection, which finish anyway.
    try:
        wait_for(lambda: stack.emulator.stats()["requests"] > seen + 64, timeout=120, what="deliveries after the kill")
    except AssertionError:
        print(stack.emulator.stats(), worker.log()[-20000:])  # shown when it fails
        raise
    stamps = sorted(float(r["timestamp"]) for r in stack.emulator.requests())
    around = [stamp for stamp in stamps if stamp >= killed_at - 5]
    longest = max(b - a for a, b in itertools.pairwise(around))
    print(f"longest gap between deliveries around the node's loss: {longest:.2f} s")

    log = worker.log()
    # Reconnected to the next URL (node 2)...
    assert f"Connected to amqp://guest:**@127.0.0.1:{second.amqp_port}/" in log
    # ...and consuming again at once: Celery's own delayed-delivery set-up walked every URL,
    # the dead one included, with 1/3/5 s sleeps first (~17 s); ours declares once, on the
    # live connection.
    assert "Retrying delayed delivery setup" not in log
    assert "Failed to setup delayed delivery" not in log
    assert "native delayed delivery could not be set up" not in log


def test_retries_held_in_the_broker_survive_the_loss_of_a_node(cluster_stack: ClusterStack) -> None:
    stack = cluster_stack
    emails = [f"held{index}@example.com" for index in range(30)]
    # Each first call is throttled with Retry-After: 8, a floor for its retry's delay,
    # so every retry waits in the broker's delayed-delivery queues while a node is lost.
    stack.emulator.set_faults(script={email: [{"status": 429, "retry_after": 8}] for email in emails})
    # The broker's delayed queues are what is tested: with flow control on, the first 429's
    # Retry-After would hold the fleet's other first calls for 8 s each time, as it should.
    stack.env.update(SENDX_RETRY_CAP_S="20", SENDX_FLOW_CONTROL="off")
    stack.start_worker()
    for email in emails:
        stack.identify({"email": email, "firstName": "Held"})
    wait_for(lambda: stack.emulator.stats()["requests"] >= len(emails), timeout=60, what="every first call")
    held = wait_for(
        lambda: sum(q["messages"] for name, q in stack.cluster.queues(stack.vhost).items() if "delayed" in name),
        timeout=30,
        what="retries held in celery_delayed_*",
    )
    assert held > 0
    stack.cluster.kill(stack.holder("celery_delayed_0"))

    for email in emails:
        stack.wait_contact(email, timeout=120, firstName="Held")
    assert stack.dead_letters() == []
