"""Putting a dead letter's task back on ``sendx``."""

from __future__ import annotations

from typing import Any

from celery import Celery

from ..errors import SendxError
from ..stamps import format_stamp, stamp_now
from .record import DeadLetterRecord

__all__ = ["REPLAYABLE_TASKS", "NotReplayable", "is_replayable", "replay"]

REPLAYABLE_TASKS = frozenset({"sendx.identify_contact", "sendx.track_tags"})


class NotReplayable(SendxError):
    """Raised when a dead letter does not hold a task that can be sent again."""


def is_replayable(record: DeadLetterRecord) -> bool:
    """True when ``record`` holds a sendx task and a payload that :func:`replay` can send again."""
    return record.task in REPLAYABLE_TASKS and record.payload is not None


def replay(app: Celery, record: DeadLetterRecord, payload: Any = None, *, force: bool = False) -> str:
    """Publish ``record``'s task again (with ``payload`` instead, if given); returns the new task id.

    The task starts afresh: a new id, a new retry window, but the event keeps its stamp
    (``occurred_at``), so the worker's per-contact ordering drops the parts a newer
    event has replaced since: an old dead letter cannot overwrite newer data.
    ``force`` replays it as an event happening now instead, which overrides them. The
    publish is confirmed by the broker before this returns, so the caller may then
    delete the record.
    """
    if record.task not in REPLAYABLE_TASKS:
        raise NotReplayable(
            f"dead letter {record.id} holds no sendx task (task {record.task!r}); fix and enqueue it anew"
        )
    body = record.payload if payload is None else payload
    if body is None:
        raise NotReplayable(f"dead letter {record.id} has no payload to replay")
    kwargs: dict[str, Any] = {"payload": body}
    if record.team is not None:
        kwargs["team"] = record.team
    occurred_at = format_stamp(stamp_now()) if force else record.occurred_at
    if occurred_at is not None:
        kwargs["occurred_at"] = occurred_at
    result = app.send_task(record.task, kwargs=kwargs, headers={"sendx_replay_of": record.id})
    return str(result.id)
