"""Reading and writing ``sendx.dead_letter`` on any broker kombu speaks.

Listing takes every message without acknowledging it and then closes the
channel, which hands them all back to the broker: nothing is consumed by looking.
Replay and purge acknowledge a record only after its action succeeded, so a crash
in between leaves the dead letter in place (at worst replayed twice, never lost).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from kombu import Connection
from kombu.message import Message

from ..topology import DEAD_LETTER_EXCHANGE, DEAD_LETTER_ROUTING_KEY, dead_letter_queue
from .record import RECORD_HEADER, DeadLetterRecord, record_from_message

__all__ = ["DeadLetterQueue", "publish_record"]

logger = logging.getLogger(__name__)

PUBLISH_RETRY_POLICY = {"max_retries": 5, "interval_start": 0.5, "interval_step": 1.0, "interval_max": 5.0}


def publish_record(producer: Any, record: DeadLetterRecord) -> None:
    """Publish ``record`` durably to ``sendx.dead_letter`` with a kombu producer."""
    producer.publish(
        record.to_dict(),
        exchange=DEAD_LETTER_EXCHANGE,
        routing_key=DEAD_LETTER_ROUTING_KEY,
        declare=[dead_letter_queue()],
        serializer="json",
        delivery_mode=2,
        headers={RECORD_HEADER: 1},
        retry=True,
        retry_policy=PUBLISH_RETRY_POLICY,
    )


class DeadLetterQueue:
    """The dead letters on one broker, read and edited through a kombu connection."""

    def __init__(self, connect: Callable[[], Connection]) -> None:
        self._connect = connect

    def records(self) -> list[DeadLetterRecord]:
        """Every dead letter, oldest first, leaving them all in place."""
        with self._held() as held:
            return [record for record, _ in held]

    def take(
        self,
        wanted: Callable[[DeadLetterRecord], bool],
        action: Callable[[DeadLetterRecord], None],
    ) -> list[DeadLetterRecord]:
        """Run ``action`` on each wanted record, then remove it; returns the records done.

        A record whose action raises stays in the queue, and the error propagates
        after the records already done have been removed.
        """
        done: list[DeadLetterRecord] = []
        with self._held() as held:
            for record, message in held:
                if not wanted(record):
                    continue
                action(record)
                message.ack()
                done.append(record)
        return done

    def add(self, records: Iterable[DeadLetterRecord]) -> None:
        """Publish records (used by tests and to restore an export)."""
        with self._connect() as connection, connection.Producer() as producer:
            for record in records:
                publish_record(producer, record)

    @contextmanager
    def _held(self) -> Iterator[list[tuple[DeadLetterRecord, Message]]]:
        with self._connect() as connection:
            channel = connection.channel()
            try:
                queue = dead_letter_queue()(channel)
                queue.declare()
                held: list[tuple[DeadLetterRecord, Message]] = []
                while (message := queue.get(no_ack=False, accept=["json"])) is not None:
                    held.append((_record_of(message), message))
                yield held
            finally:
                # Closing the channel returns every message not acknowledged above.
                channel.close()


def _record_of(message: Message) -> DeadLetterRecord:
    try:
        body = message.decode()
    except Exception:  # an undecodable body is still shown, as text, never unpickled
        body = None
    return record_from_message(body, message.headers, raw=message.body)
