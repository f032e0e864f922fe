"""Dead letters: the records of messages that could not be delivered, and their queue."""

from .declare import MIGRATE_HINT, DeadLetterUnavailable, ensure_dead_letter_queue
from .queue import DeadLetterQueue, publish_record
from .record import REASONS, DeadLetterRecord, Reason, iso_utc, new_record_id, record_from_message

__all__ = [
    "MIGRATE_HINT",
    "REASONS",
    "DeadLetterQueue",
    "DeadLetterRecord",
    "DeadLetterUnavailable",
    "Reason",
    "ensure_dead_letter_queue",
    "iso_utc",
    "new_record_id",
    "publish_record",
    "record_from_message",
]
