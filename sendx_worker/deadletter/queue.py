"""Reading and writing ``sendx.dead_letter`` on any broker kombu speaks.

Listing takes every message without acknowledging it and then closes the
channel, which hands them all back to the broker: nothing is consumed by looking.
Replay and purge acknowledge a record only after its action succeeded, so a crash
in between leaves the dead letter in place (at worst replayed twice, never lost).

On RabbitMQ a record is published *mandatory* as well as confirmed: a confirmed
publish that no queue takes (the queue deleted, or a classic queue whose node is
down) is acknowledged by the broker and dropped, while a mandatory one comes back
(``Basic.Return``), so that an unstored dead letter is an error, never a silent loss.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from kombu import Connection
from kombu.message import Message

from ..topology import DEAD_LETTER_EXCHANGE, DEAD_LETTER_ROUTING_KEY, dead_letter_queue
from .declare import (
    DeadLetterUnavailable,
    QueueKind,
    channel_error,
    ensure_dead_letter_queue,
    is_rabbitmq,
    open_channel,
    unavailable,
)
from .record import RECORD_HEADER, DeadLetterRecord, record_from_message

__all__ = ["DeadLetterQueue", "publish_record", "publish_returned"]

logger = logging.getLogger(__name__)

PUBLISH_RETRY_POLICY = {"max_retries": 5, "interval_start": 0.5, "interval_step": 1.0, "interval_max": 5.0}
# How long a publish waits for the broker's confirmation: a quorum queue that lost its
# majority confirms nothing, and a worker thread must not wait for it forever.
CONFIRM_TIMEOUT_S = 30.0
# Reading the queue again on a new connection after the broker dropped one (a leader election).
READ_ATTEMPTS = 5
READ_RETRY_INTERVAL_S = 1.0


def publish_record(producer: Any, record: DeadLetterRecord) -> None:
    """Publish ``record`` durably to ``sendx.dead_letter`` with a kombu producer.

    Raises :class:`DeadLetterUnavailable` when RabbitMQ returns it unrouted even after
    the queue was declared again, and whatever the broker raised when it refused it.
    """
    options: dict[str, Any] = {
        "exchange": DEAD_LETTER_EXCHANGE,
        "routing_key": DEAD_LETTER_ROUTING_KEY,
        "serializer": "json",
        "delivery_mode": 2,
        "headers": {RECORD_HEADER: 1},
    }
    connection = producer.connection
    if not is_rabbitmq(connection):
        producer.publish(
            record.to_dict(), declare=[dead_letter_queue()], retry=True, retry_policy=PUBLISH_RETRY_POLICY, **options
        )
        return
    publish = connection.ensure(producer, publish_returned, **PUBLISH_RETRY_POLICY)
    returned = publish(producer, record.to_dict(), declare=[DEAD_LETTER_EXCHANGE], **options)
    if returned is None:
        return
    # Unrouted: the queue (or its binding) is gone, or a classic queue's node is down.
    # Declaring it again brings a deleted queue back, or says why it cannot be used.
    ensure_dead_letter_queue(connection)
    returned = publish(producer, record.to_dict(), declare=[DEAD_LETTER_EXCHANGE], **options)
    if returned is not None:
        raise DeadLetterUnavailable(f"the broker returned dead letter {record.id} unrouted: {returned}")


def publish_returned(producer: Any, body: Any, **options: Any) -> str | None:
    """One mandatory, confirmed publish on the producer's current channel (RabbitMQ).

    Returns None when a queue took the message, else the broker's reason for returning it.
    """
    returns: list[str] = []

    def on_return(exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        returns.append(" ".join(str(exc).split()))

    # py-amqp raises a Basic.Return out of the confirmation wait unless a handler is
    # registered, which would leave the confirmation unread on the channel; with one,
    # the return is recorded and the confirmation that follows it is read as usual.
    handlers = producer.channel.events["basic_return"]
    handlers.add(on_return)
    try:
        producer.publish(body, mandatory=True, retry=False, timeout=CONFIRM_TIMEOUT_S, **options)
    finally:
        handlers.discard(on_return)
    return returns[0] if returns else None


class DeadLetterQueue:
    """The dead letters on one broker, read and edited through a kombu connection."""

    def __init__(self, connect: Callable[[], Connection]) -> None:
        self._connect = connect
        #: The kind of queue found by the last read (RabbitMQ): "classic" until it is migrated.
        self.kind: QueueKind | None = None

    def records(self) -> list[DeadLetterRecord]:
        """Every dead letter, oldest first, leaving them all in place (a record written twice shows once).

        Sorted by when each was dead-lettered (then by id), not in the queue's order: a
        broker hands back the messages a look took in an order of its own (a quorum
        queue's returns, say), and a listing must read the same from one call to the next.
        """
        with self._held() as held:
            unique: dict[str, DeadLetterRecord] = {}
            for record, _ in held:
                unique.setdefault(record.id, record)
            return sorted(unique.values(), key=lambda record: (record.dead_lettered_at, record.id))

    def take(
        self,
        wanted: Callable[[DeadLetterRecord], bool],
        action: Callable[[DeadLetterRecord], None],
    ) -> list[DeadLetterRecord]:
        """Run ``action`` on each wanted record, then remove it; returns the records done.

        A record whose action raises stays in the queue, and the error propagates
        after the records already done have been removed. A record written twice (its
        first write's confirmation was lost, so it was written again) is acted on once;
        its copy is removed with it.
        """
        done: list[DeadLetterRecord] = []
        with self._held() as held:
            for record, message in held:
                if not wanted(record):
                    continue
                if record.id not in {finished.id for finished in done}:
                    action(record)
                    done.append(record)
                message.ack()
        return done

    def add(self, records: Iterable[DeadLetterRecord]) -> None:
        """Publish records (used by tests and to restore an export)."""
        with self._connect() as connection, connection.Producer() as producer:
            for record in records:
                publish_record(producer, record)

    @contextmanager
    def _held(self) -> Iterator[list[tuple[DeadLetterRecord, Message]]]:
        """Every record, taken unacknowledged; raises DeadLetterUnavailable when the queue cannot be read.

        Reading is retried on a new connection (the next node of a failover list) when the
        broker drops the connection: a quorum queue whose leader's node just died answers
        ``basic.get`` with a connection error until a new leader is elected (~1 s).
        """
        for attempt in range(1, READ_ATTEMPTS + 1):
            with ExitStack() as stack:
                connection = stack.enter_context(self._connect())
                self.kind = ensure_dead_letter_queue(connection)
                try:
                    # Closing the channel returns every message not acknowledged in the block.
                    channel = stack.enter_context(open_channel(connection))
                    held = _take_all(channel)
                except connection.connection_errors:
                    if attempt == READ_ATTEMPTS:
                        raise
                    time.sleep(READ_RETRY_INTERVAL_S)
                    continue
                yield held
                return


def _take_all(channel: Any) -> list[tuple[DeadLetterRecord, Message]]:
    queue = dead_letter_queue()(channel)
    held: list[tuple[DeadLetterRecord, Message]] = []
    try:
        while (message := queue.get(no_ack=False, accept=["json"])) is not None:
            held.append((_record_of(message), message))
    except Exception as exc:
        if channel_error(exc) is None:
            raise
        raise DeadLetterUnavailable(unavailable(exc)) from exc
    return held


def _record_of(message: Message) -> DeadLetterRecord:
    try:
        body = message.decode()
    except Exception:  # an undecodable body is still shown, as text, never unpickled
        body = None
    return record_from_message(body, message.headers, raw=message.body)
