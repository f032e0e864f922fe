"""Dead letters: the records of messages that could not be delivered, and their queue."""

from .queue import DeadLetterQueue, publish_record
from .record import REASONS, DeadLetterRecord, Reason, iso_utc, new_record_id, record_from_message

__all__ = [
    "REASONS",
    "DeadLetterQueue",
    "DeadLetterRecord",
    "Reason",
    "iso_utc",
    "new_record_id",
    "publish_record",
    "record_from_message",
]
