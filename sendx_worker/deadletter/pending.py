"""A dead letter that could not be written yet: set aside on its task message, written first next time.

When publishing a record fails (the dead-letter queue unreachable, its node down, the
publish returned unrouted or refused), the worker must neither lose the record nor call
SendX again to make it anew. So the outcome is *set aside*: the task message is
published again, as a Celery retry held by the broker for a short backoff, carrying the
record in the header :data:`PENDING_HEADER`, and the original is acknowledged. The next
delivery of a message that carries a record writes the record before anything else:

- when the record was the attempt's outcome (``final``), that is all it does: no SendX call;
- when the attempt was to go on (an identify's increments set aside before the rest is
  delivered), it goes on with the rest, which the message now holds.

If that write fails too, the record is set aside again, with a longer backoff (the retry
policy's, without a deadline). Only when the broker takes neither the record nor the
message carrying it does the message go back to the queue as it came, to be handled
again from the start.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from ..logs import context
from ..masking import mask_text
from ..retry import compute_backoff, countdown_for
from .record import DeadLetterRecord

if TYPE_CHECKING:
    from ..tasks.attempt import Attempt
    from ..tasks.base import SendxTask

__all__ = ["PENDING_HEADER", "Pending", "pending_of", "set_aside", "write_or_set_aside", "write_pending"]

logger = logging.getLogger(__name__)

#: The header of a task message that carries a dead letter still to be written (JSON text).
PENDING_HEADER = "sendx_pending_dead_letter"


@dataclass(frozen=True)
class Pending:
    """A carried record; ``final``: it was the attempt's outcome. ``tries``: writes that failed so far."""

    record: DeadLetterRecord
    final: bool
    tries: int = 1

    def to_header(self) -> str:
        return json.dumps({"record": self.record.to_dict(), "final": self.final, "tries": self.tries})


def pending_of(request: Any) -> Pending | None:
    """The record the task message being handled carries, if any."""
    from ..tasks.base import header  # the tasks package imports this module

    raw = header(request, PENDING_HEADER)
    if raw is None:
        return None
    try:
        data = json.loads(raw) if isinstance(raw, str | bytes) else raw
        return Pending(DeadLetterRecord.from_dict(data["record"]), bool(data["final"]), int(data.get("tries", 1)))
    except (TypeError, ValueError, KeyError) as exc:
        # Not ours, or damaged: handled as a plain message rather than failed.
        logger.error("ignoring an unreadable pending dead letter", extra=context(error=mask_text(str(exc))))
        return None


def write_or_set_aside(task: SendxTask, attempt: Attempt, record: DeadLetterRecord, *, then: Any = None) -> None:
    """Write ``record``; if that fails, set it aside (raises Celery's ``Retry``).

    ``then``: the payload the attempt goes on with after the record (None: the record is its outcome).
    """
    try:
        task.publish_dead_letter(record)
    except Exception as exc:
        set_aside(task, attempt, Pending(record, final=then is None), exc, payload=then)


def write_pending(task: SendxTask, attempt: Attempt, pending: Pending) -> None:
    """Write the record a message carries; if that fails again, set it aside again (raises ``Retry``)."""
    try:
        task.publish_dead_letter(pending.record)
    except Exception as exc:
        set_aside(task, attempt, Pending(pending.record, pending.final, pending.tries + 1), exc)
    task.observer.dead_lettered(attempt.operation.name, pending.record.reason)
    logger.warning(
        "dead-lettered",
        extra=context(
            **attempt.log_fields(outcome="dead_lettered", reason=pending.record.reason, id=pending.record.id),
            set_aside=pending.tries,
        ),
    )


def set_aside(
    task: SendxTask, attempt: Attempt, pending: Pending, error: Exception, *, payload: Any = None
) -> NoReturn:
    """Publish the task message again carrying ``pending`` (with ``payload`` instead, if given); raises ``Retry``.

    The message's other keyword arguments and its first-attempt stamp travel unchanged.
    """
    settings = task.settings
    delay = compute_backoff(pending.tries, base_s=settings.retry_base_s, cap_s=settings.retry_cap_s)
    countdown = countdown_for(delay)
    logger.warning(
        "dead letter not written; set aside",
        extra=context(
            **attempt.log_fields(reason=pending.record.reason, id=pending.record.id, delay_s=countdown),
            error=mask_text(" ".join(f"{type(error).__name__}: {error}".split())),
        ),
    )
    from ..tasks.attempt import FIRST_ATTEMPT_HEADER  # the tasks package imports this module

    kwargs = dict(task.request.kwargs or {})
    if payload is not None:
        kwargs["payload"] = payload
    task.republish(
        kwargs,
        countdown=countdown,
        headers={FIRST_ATTEMPT_HEADER: attempt.first_at, PENDING_HEADER: pending.to_header()},
    )
