"""What the console does to dead letters, each logged with who and what (e-mails masked).

Replay goes through :func:`sendx_worker.deadletter.replay.replay`, the function
``sendx-worker dead replay`` uses, inside :meth:`DeadLetterQueue.take`: the task is
published (and confirmed) before its record is removed, so a crash in between
duplicates and never loses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from celery import Celery

from ..deadletter import DeadLetterRecord
from ..deadletter.replay import is_replayable, replay
from ..logs import context
from .records import Filter, RecordBook, masked_email

__all__ = ["ACTION_LOGGER", "Actions", "Outcome", "log_action"]

ACTION_LOGGER = "sendx_worker.console.actions"
action_log = logging.getLogger(ACTION_LOGGER)
# The log line names at most this many records; the count is always exact.
LOGGED_RECORDS = 20


@dataclass
class Outcome:
    """What one action did."""

    done: list[DeadLetterRecord] = field(default_factory=list)
    #: Chosen but not replayable (no sendx task or no payload): left in place.
    skipped: list[DeadLetterRecord] = field(default_factory=list)
    #: Chosen but gone by the time the action ran (another operator, another tab).
    missing: int = 0


def log_action(action: str, who: str, records: Iterable[DeadLetterRecord], **more: object) -> None:
    """One INFO line: the action, who, how many, and the first records' short ids and masked e-mails."""
    listed = list(records)
    shown = listed[:LOGGED_RECORDS]
    action_log.info(
        "console action",
        extra=context(
            action=action,
            who=who,
            count=len(listed),
            ids=",".join(record.id[:8] for record in shown) or None,
            emails=",".join(masked_email(record) for record in shown) or None,
            **more,
        ),
    )


class Actions:
    """Replay and purge on one broker's dead letters."""

    def __init__(self, app: Celery, book: RecordBook, *, clock: Callable[[], float]) -> None:
        self.app = app
        self.book = book
        self._clock = clock

    def replay_ids(self, ids: Collection[str], who: str) -> Outcome:
        """Replay the records with these ids now (a page's worth at most)."""
        chosen = [record for record in self.book.all() if record.id in ids]
        outcome = Outcome(skipped=[record for record in chosen if not is_replayable(record)])
        wanted = {record.id for record in chosen if is_replayable(record)}
        outcome.done = self.book.take(lambda record: record.id in wanted, self._send_quietly)
        outcome.missing = len(set(ids) - {record.id for record in chosen}) + len(wanted) - len(outcome.done)
        log_action("replay", who, outcome.done, skipped=len(outcome.skipped) or None, missing=outcome.missing or None)
        return outcome

    def send(self, record: DeadLetterRecord) -> str:
        """Put one record's task back on ``sendx`` (the ``dead replay`` path); the new task id."""
        return replay(self.app, record)

    def _send_quietly(self, record: DeadLetterRecord) -> None:
        self.send(record)

    def purge(self, who: str, ids: Collection[str] = (), matching: Filter | None = None) -> Outcome:
        """Delete the records with these ids, or every record ``matching`` the filter."""
        now = self._clock()

        def wanted(record: DeadLetterRecord) -> bool:
            return matching.matches(record, now) if matching is not None else record.id in ids

        done = self.book.take(wanted, lambda record: None)
        outcome = Outcome(done=done, missing=max(0, len(ids) - len(done)) if matching is None else 0)
        scope = {"filter": matching.describe()} if matching is not None else {}
        log_action("purge", who, done, missing=outcome.missing or None, **scope)
        return outcome
