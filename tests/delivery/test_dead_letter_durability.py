"""Dead letters on RabbitMQ: a quorum queue, published mandatory and confirmed, never lost, never re-earned.

A dead letter that the broker will not take is set aside on its task message and
written later; SendX is not called again for it (sendx_worker/deadletter/pending.py).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection, Queue

from sendx_worker.deadletter import MIGRATE_HINT
from sendx_worker.emulator import Emulator
from sendx_worker.topology import DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, DEAD_LETTER_ROUTING_KEY
from tests.delivery.conftest import Stack
from tests.support.brokers import rabbitmq_vhost
from tests.support.waiting import wait_for


@pytest.fixture
def rabbit_stack(emulator: Emulator, tmp_path: Path) -> Iterator[Stack]:
    with rabbitmq_vhost() as broker:
        built = Stack(broker, emulator, tmp_path)
        try:
            yield built
        finally:
            built.close()


def queue_types(stack: Stack) -> dict[str, str]:
    vhost = stack.broker.url.rsplit("/", 1)[1]
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "type"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return dict(line.split("\t")[:2] for line in out.splitlines() if "\t" in line)


def declare_classic_dead_letter_queue(url: str, **arguments: object) -> None:
    """What an older version declared (a classic queue), here with ``arguments`` of our choosing."""
    with Connection(url) as connection:
        queue = Queue(
            DEAD_LETTER_QUEUE,
            DEAD_LETTER_EXCHANGE,
            routing_key=DEAD_LETTER_ROUTING_KEY,
            durable=True,
            queue_arguments=dict(arguments) or None,
        )
        queue(connection.default_channel).declare()


def test_the_worker_declares_the_dead_letter_queue_as_a_quorum_queue_at_start(rabbit_stack: Stack) -> None:
    rabbit_stack.start_worker()
    assert queue_types(rabbit_stack)[DEAD_LETTER_QUEUE] == "quorum"
    rabbit_stack.emulator.set_faults(script={"no@example.com": [422]})
    rabbit_stack.identify({"email": "no@example.com"})
    (record,) = rabbit_stack.wait_dead_letters(1)
    assert (record.reason, record.status) == ("rejected", 422)


def test_a_dead_letter_the_broker_refuses_is_set_aside_and_written_later_without_calling_sendx_again(
    rabbit_stack: Stack,
) -> None:
    # A queue that refuses every message (overflow: reject-publish, length 0): each
    # dead-letter publish is refused (nack) as when the queue's node is unavailable.
    declare_classic_dead_letter_queue(rabbit_stack.broker.url, **{"x-max-length": 0, "x-overflow": "reject-publish"})
    rabbit_stack.emulator.set_faults(script={"refused@example.com": [422] * 5})
    worker = rabbit_stack.start_worker()
    assert worker.saw(MIGRATE_HINT)  # an existing classic queue is used as it is, with a warning

    rabbit_stack.identify({"email": "refused@example.com"})
    wait_for(lambda: worker.count("dead letter not written; set aside") >= 2, timeout=60, what="two set-asides")
    rabbit_stack.identify({"email": "fine@example.com", "firstName": "Fine"})
    rabbit_stack.wait_contact("fine@example.com", firstName="Fine")

    # The queue comes back (here: the refusing one removed; the worker declares a quorum one).
    with Connection(rabbit_stack.broker.url) as connection:
        connection.default_channel.queue_delete(DEAD_LETTER_QUEUE)
    (record,) = rabbit_stack.wait_dead_letters(1)
    assert (record.reason, record.status, record.payload) == ("rejected", 422, {"email": "refused@example.com"})
    assert record.attempts == 1
    # SendX was asked once: the outcome was kept, not made again.
    assert len(rabbit_stack.api_requests("refused@example.com")) == 1
    assert queue_types(rabbit_stack)[DEAD_LETTER_QUEUE] == "quorum"
    wait_for(lambda: worker.saw("dead-lettered"), timeout=30, what="the dead-lettered line")
