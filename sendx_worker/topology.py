"""The broker topology: the work queue ``sendx`` and the dead-letter queue.

On RabbitMQ ``sendx`` is a quorum queue bound to the *topic* exchange ``sendx``:
quorum for replicated, durable delivery with a broker-side delivery limit, and a
topic exchange because Celery's native delayed delivery (retry delays held by the
broker instead of in a worker's memory) only works for queues bound through a
topic or fanout exchange. Messages the broker itself gives up on (delivery limit
exceeded) are dead-lettered to ``sendx.dead_letter`` too, so every way a message
can die ends in one place.

``sendx.dead_letter`` is a quorum queue on RabbitMQ too: a classic queue lives on one
node of a cluster, and while that node is down its dead letters are refused or, worse,
routed nowhere. Other brokers ignore the queue type. A classic ``sendx.dead_letter``
left by an older version is used as it is (with a warning) until ``sendx-worker dead
migrate`` turns it into a quorum queue (:mod:`sendx_worker.deadletter.migrate`).
"""

from __future__ import annotations

from kombu import Exchange, Queue

__all__ = [
    "BROKER_DELIVERY_LIMIT",
    "DEAD_LETTER_EXCHANGE",
    "DEAD_LETTER_QUEUE",
    "DEAD_LETTER_ROUTING_KEY",
    "WORK_EXCHANGE",
    "WORK_QUEUE",
    "WORK_ROUTING_KEY",
    "dead_letter_queue",
    "work_queue",
]

WORK_QUEUE = "sendx"
WORK_ROUTING_KEY = "sendx"
DEAD_LETTER_QUEUE = "sendx.dead_letter"
DEAD_LETTER_ROUTING_KEY = "sendx.dead_letter"

# The broker's own backstop against a message that kills every worker that takes
# it. The worker dead-letters such a message itself, with a record, after
# SENDX_MAX_DELIVERIES; this limit only catches what slips past (and is part of the
# queue's declaration, so changing it means re-creating the queue).
BROKER_DELIVERY_LIMIT = 20

WORK_EXCHANGE = Exchange(WORK_QUEUE, type="topic", durable=True)
DEAD_LETTER_EXCHANGE = Exchange(DEAD_LETTER_QUEUE, type="direct", durable=True)


def work_queue() -> Queue:
    """The ``sendx`` queue as workers and our producers declare it."""
    return Queue(
        WORK_QUEUE,
        WORK_EXCHANGE,
        routing_key=WORK_ROUTING_KEY,
        durable=True,
        queue_arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name,
            "x-dead-letter-routing-key": DEAD_LETTER_ROUTING_KEY,
            "x-delivery-limit": BROKER_DELIVERY_LIMIT,
        },
    )


def dead_letter_queue(name: str = DEAD_LETTER_QUEUE, *, bound: bool = True) -> Queue:
    """The durable ``sendx.dead_letter`` queue that holds dead-letter records (a quorum queue on RabbitMQ).

    ``name`` and ``bound=False``: a queue of the same kind, unbound, for a migration's holding queue.
    """
    return Queue(
        name,
        DEAD_LETTER_EXCHANGE if bound else None,
        routing_key=DEAD_LETTER_ROUTING_KEY if bound else None,
        durable=True,
        queue_arguments={"x-queue-type": "quorum"},
    )
