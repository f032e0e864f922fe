"""``sendx-worker dead migrate``: turn an older version's classic ``sendx.dead_letter`` into a quorum queue.

A queue's type cannot change in place. The records move to a holding quorum queue
(``sendx.dead_letter.migrating``), the emptied classic queue is deleted and declared
again as a quorum queue, and the records move back. Each record is published to its
new queue (mandatory, confirmed) before it is acknowledged on the old one, so a crash
at any point duplicates at worst and loses nothing; running the command again finishes
the job (records left in the holding queue are moved back). Workers may keep running:
a dead letter published while the queue is being re-created comes back unrouted and
is retried after declaring the quorum queue (:func:`~.queue.publish_record`).
"""

from __future__ import annotations

from dataclasses import dataclass

from kombu import Connection, Producer, Queue

from ..topology import DEAD_LETTER_QUEUE, dead_letter_queue
from .declare import (
    NOT_FOUND,
    PRECONDITION_FAILED,
    DeadLetterUnavailable,
    channel_error,
    ensure_dead_letter_queue,
    is_rabbitmq,
    open_channel,
)
from .queue import publish_returned

__all__ = ["HOLDING_QUEUE", "Migration", "migrate"]

HOLDING_QUEUE = f"{DEAD_LETTER_QUEUE}.migrating"
# Rounds of "move what arrived, try to delete": workers may still be writing to the old queue.
DELETE_ROUNDS = 20


@dataclass(frozen=True)
class Migration:
    """What a migration did: the kind of queue found, and the records moved."""

    found: str
    moved: int

    def summary(self) -> str:
        if self.found == "none":
            return "nothing to migrate: queue types exist on RabbitMQ only"
        if self.found == "quorum" and not self.moved:
            return f"{DEAD_LETTER_QUEUE} is already a quorum queue; nothing to do"
        if self.found == "quorum":
            return f"{DEAD_LETTER_QUEUE} is a quorum queue; {self.moved} record(s) moved back from {HOLDING_QUEUE}"
        return f"{DEAD_LETTER_QUEUE} is now a quorum queue; {self.moved} record(s) kept"


def migrate(connection: Connection) -> Migration:
    """Make ``sendx.dead_letter`` a quorum queue, keeping every record; safe to run again."""
    if not is_rabbitmq(connection):
        return Migration("none", 0)
    if not (connection.transport_options or {}).get("confirm_publish"):
        # Every move is confirmed by the broker before the original is acknowledged.
        with connection.clone(transport_options={**connection.transport_options, "confirm_publish": True}) as confirmed:
            return migrate(confirmed)
    found = ensure_dead_letter_queue(connection)
    if found == "classic":
        with open_channel(connection) as channel:
            dead_letter_queue(HOLDING_QUEUE, bound=False)(channel).declare()
        _move_and_delete(connection, DEAD_LETTER_QUEUE, HOLDING_QUEUE, quorum=False)
        if ensure_dead_letter_queue(connection) != "quorum":
            raise DeadLetterUnavailable(f"{DEAD_LETTER_QUEUE} was re-created as a classic queue by someone else")
    if not _exists(connection, HOLDING_QUEUE):
        return Migration(found, 0)
    moved = _move_and_delete(connection, HOLDING_QUEUE, DEAD_LETTER_QUEUE, quorum=True)
    return Migration(found, moved)


def _move_and_delete(connection: Connection, source: str, target: str, *, quorum: bool) -> int:
    """Move every message from ``source`` to ``target``, then delete ``source`` once it is empty.

    A classic queue is deleted "if empty" by the broker itself, so that a dead letter a
    worker writes meanwhile is not deleted with it; quorum queues do not support that,
    but nothing but this command writes to the holding queue.
    """
    moved = 0
    for _ in range(DELETE_ROUNDS):
        moved += _move(connection, source, target)
        try:
            with open_channel(connection) as channel:
                if not quorum:
                    channel.queue_delete(source, if_empty=True)
                elif channel.queue_declare(queue=source, passive=True).message_count == 0:
                    channel.queue_delete(source)
                else:
                    continue
            return moved
        except Exception as exc:
            # Not empty: something was written meanwhile; move it too.
            if channel_error(exc) != PRECONDITION_FAILED:
                raise
    raise DeadLetterUnavailable(f"{source} kept receiving messages; stop the workers and run the migration again")


def _move(connection: Connection, source: str, target: str) -> int:
    """Each message of ``source`` published to ``target`` (confirmed) before it is acknowledged."""
    moved = 0
    with open_channel(connection) as reading, open_channel(connection) as writing:
        queue = Queue(source, no_declare=True)(reading)
        producer = Producer(writing)
        while (message := queue.get(no_ack=False)) is not None:
            returned = publish_returned(
                producer,
                message.body,
                exchange="",
                routing_key=target,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                headers=dict(message.headers or {}),
                delivery_mode=2,
            )
            if returned is not None:
                raise DeadLetterUnavailable(f"could not move a record to {target}: {returned}")
            message.ack()
            moved += 1
    return moved


def _exists(connection: Connection, name: str) -> bool:
    try:
        with open_channel(connection) as channel:
            channel.queue_declare(queue=name, passive=True)
        return True
    except Exception as exc:
        if channel_error(exc) != NOT_FOUND:
            raise
        return False
