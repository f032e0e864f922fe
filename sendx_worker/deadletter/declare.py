"""Declaring ``sendx.dead_letter``, and recognising the classic queue an older version left.

On RabbitMQ the queue is declared as a quorum queue. Declaring it over an existing
classic queue fails with ``PRECONDITION_FAILED`` (and closes the channel): that queue
is then used as it is, declared passively, and :data:`MIGRATE_HINT` says what to do.
Every declaration runs on a channel of its own, so a broker that closes it never
breaks a producer's channel.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Literal

from amqp.exceptions import ChannelError as AmqpChannelError
from kombu import Connection, Queue

from ..errors import SendxError
from ..topology import DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, DEAD_LETTER_ROUTING_KEY, dead_letter_queue

__all__ = [
    "MIGRATE_HINT",
    "DeadLetterUnavailable",
    "QueueKind",
    "channel_error",
    "ensure_dead_letter_queue",
    "is_rabbitmq",
    "open_channel",
]

QueueKind = Literal["quorum", "classic"]

MIGRATE_HINT = (
    f"{DEAD_LETTER_QUEUE} is a classic queue, which lives on one node of a RabbitMQ cluster and cannot take "
    "dead letters while that node is down; run 'sendx-worker dead migrate' to make it a quorum queue "
    "(every record is kept)"
)

# AMQP reply codes (amqp.exceptions): the queue exists with other arguments; not found
# (also "home node of durable queue is down").
PRECONDITION_FAILED = 406
NOT_FOUND = 404


class DeadLetterUnavailable(SendxError):
    """Raised when ``sendx.dead_letter`` cannot take or give records (its node down, no queue took one)."""


def is_rabbitmq(connection: Connection) -> bool:
    """True when ``connection`` speaks AMQP 0-9-1 (RabbitMQ), where queue types and publisher returns exist."""
    return str(getattr(connection.transport, "driver_type", "")) == "amqp"


def channel_error(exc: BaseException) -> int | None:
    """The AMQP reply code of a channel error the broker raised (406, 404, ...), else None."""
    if not isinstance(exc, AmqpChannelError):
        return None
    code = getattr(exc, "reply_code", None) or getattr(exc, "code", None)
    return code if isinstance(code, int) else None


@contextlib.contextmanager
def open_channel(connection: Connection) -> Iterator[Any]:
    """A channel of its own, closed afterwards even if the broker already closed it."""
    channel = connection.channel()
    try:
        yield channel
    finally:
        with contextlib.suppress(Exception):
            channel.close()


def ensure_dead_letter_queue(connection: Connection) -> QueueKind:
    """Declare the dead-letter exchange, queue and binding; return the kind of queue in place.

    Raises :class:`DeadLetterUnavailable` when the broker refuses (a classic queue's node down).
    """
    try:
        with open_channel(connection) as channel:
            dead_letter_queue()(channel).declare()
        return "quorum"
    except Exception as exc:
        code = channel_error(exc)
        if code is None:
            raise
        if code != PRECONDITION_FAILED or not is_rabbitmq(connection):
            raise DeadLetterUnavailable(unavailable(exc)) from exc
    # An older version's classic queue: use it as it is until it is migrated.
    try:
        with open_channel(connection) as channel:
            existing = Queue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, routing_key=DEAD_LETTER_ROUTING_KEY)(channel)
            existing.queue_declare(passive=True)
            DEAD_LETTER_EXCHANGE(channel).declare()
            existing.queue_bind()
    except Exception as exc:
        if channel_error(exc) is None:
            raise
        raise DeadLetterUnavailable(unavailable(exc)) from exc
    return "classic"


def unavailable(exc: BaseException) -> str:
    """One line saying why the dead-letter queue is unavailable."""
    reason = " ".join(str(getattr(exc, "reply_text", "") or exc).split())
    return f"the dead-letter queue {DEAD_LETTER_QUEUE} is unavailable: {reason}"
