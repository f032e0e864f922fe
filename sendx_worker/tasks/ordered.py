"""An attempt sent in its contact's order, and never twice (``SENDX_ORDERING=on``, the default).

The attempt takes a turn on its contact (:mod:`sendx_worker.ordering.gate`): with the
contact's lease held, the parts of the event that a newer applied event replaced are
dropped (:mod:`sendx_worker.ordering.plan`), the rest is sent, and what was applied is
recorded before the lease is released. An event with nothing left to send is
acknowledged as ``superseded``, a redelivery of one whose call succeeded as
``duplicate``; neither calls SendX.

While another delivery holds the contact, or the state store cannot be reached, the
message goes back for later (:mod:`.defer`): it is never sent out of order, and it
does not spend an attempt.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

from celery.utils.log import get_task_logger

from ..errors import ApiError, PermanentError, StoreUnavailable
from ..logs import context
from ..ordering import Busy, Event
from ..stamps import bounded, format_stamp, stamp_now
from .attempt import Attempt, Progress
from .base import SendxTask
from .defer import defer
from .outcomes import UNFINISHED_EARLIER_DELIVERY, dead_letter, dead_letter_increments, failed_with, task_kwargs

__all__ = ["BUSY_COUNTDOWN_S", "StoreOutage", "attempt_in_order"]

logger = get_task_logger("sendx_worker.tasks.delivery")

#: How long a message waits when its contact is busy (whole seconds: RabbitMQ's delays are).
BUSY_COUNTDOWN_S = 1
#: How long an event waits for a move in doubt to be settled by its retry.
WAIT_COUNTDOWN_S = 5


def attempt_in_order(
    task: SendxTask, attempt: Attempt, payload: dict[str, Any], client: Any, progress: Progress, *, stamp: int | None
) -> str:
    """Send ``payload`` in its contact's order; returns the outcome."""
    received = stamp_now()
    event = Event(
        id=attempt.task_id,
        operation="identify" if attempt.operation.name == "identify" else "track",
        stamp=received if stamp is None else bounded(stamp, received),
        payload=payload,
    )
    formatted = None  # the stamp attempt.occurred_at is the canonical text of, if known
    if attempt.occurred_at is None:
        # Without a stamp, the first receipt stands in; deferred, the message keeps it.
        attempt = replace(attempt, occurred_at=format_stamp(event.stamp))
        formatted = event.stamp
    try:
        gate = task.ordering_gate()
        turn = gate.turn(attempt.team, event, stamped=stamp is not None)
    except Busy:
        defer(task, task_kwargs(attempt, attempt.payload), countdown=BUSY_COUNTDOWN_S, unfinished=attempt.unfinished)
        logger.debug("contact busy; deferred", extra=context(**attempt.log_fields(outcome="deferred")))
        return "deferred"
    except StoreUnavailable as exc:
        countdown = store_outage.failed(exc, attempt)
        defer(task, task_kwargs(attempt, attempt.payload), countdown=countdown, unfinished=attempt.unfinished)
        return "deferred"
    store_outage.succeeded()
    with turn:
        if turn.event.stamp != formatted:  # a bounded stamp, or an earlier delivery's (its mark)
            attempt = replace(attempt, occurred_at=format_stamp(turn.event.stamp))
        decided = turn.plan
        if decided.verdict in ("duplicate", "superseded"):
            turn.done_without_call()
            logger.info(
                decided.verdict,
                extra=context(
                    **attempt.log_fields(outcome=decided.verdict, superseded_parts=decided.superseded or None)
                ),
            )
            return decided.verdict
        if decided.verdict == "wait":
            turn.put_back()
            defer(
                task, task_kwargs(attempt, attempt.payload), countdown=WAIT_COUNTDOWN_S, unfinished=attempt.unfinished
            )
            logger.info("waiting", extra=context(**attempt.log_fields(outcome="deferred", reason=decided.reason)))
            return "deferred"
        if decided.verdict == "conflict":
            # Done first: the record may be set aside on the message and written later,
            # and a move's mark must not hold the contact's older events meanwhile.
            turn.done_without_call()
            return dead_letter(
                task,
                attempt,
                "rejected",
                attempt.payload,
                error=f"not sent, to keep the contact's order: {decided.reason}",
            )
        if turn.earlier_unfinished and decided.increments:
            rest = dead_letter_increments(task, attempt, error=UNFINISHED_EARLIER_DELIVERY)
            turn.without_increments()
            attempt = replace(attempt, payload=rest)
        started = time.monotonic()
        try:
            with progress.calling():
                attempt.operation.send(client, turn.plan.payload)
        except Exception as exc:
            turn.failed(
                may_have_reached=exc.may_have_reached_sendx if isinstance(exc, ApiError) else True,
                refused=isinstance(exc, PermanentError),
            )
            return failed_with(task, attempt, exc)
        try:
            turn.applied()
        except StoreUnavailable as exc:
            # SendX applied it: acknowledging is right (a requeue would send it twice);
            # only its stamps are lost, which an older event arriving later could undo.
            logger.warning(
                "delivered, but the state store could not record it",
                extra=context(**attempt.log_fields(error=str(exc))),
            )
    latency_ms = round((time.monotonic() - started) * 1000, 1)
    fields = attempt.log_fields(outcome="delivered", latency_ms=latency_ms, superseded_parts=decided.superseded or None)
    logger.info("delivered", extra=context(**fields))
    return "delivered"


class StoreOutage:
    """How long messages wait while the state store is unreachable; says so once per outage."""

    FIRST_S = 2
    CAP_S = 60

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures = 0

    def failed(self, exc: StoreUnavailable, attempt: Attempt) -> int:
        """Count one more failure; returns the countdown for the waiting message."""
        with self._lock:
            self._failures += 1
            failures = self._failures
        if failures == 1:
            logger.error(
                "state store unreachable; messages wait until it is back (never sent out of order)",
                extra=context(**attempt.log_fields(outcome="deferred", error=str(exc))),
            )
        countdown: int = min(self.CAP_S, self.FIRST_S * 2 ** min(failures - 1, 10))
        return countdown

    def succeeded(self) -> None:
        """The store answered: if it had been unreachable, say it is back."""
        if not self._failures:
            return
        with self._lock:
            failures, self._failures = self._failures, 0
        if failures:
            logger.warning("state store reachable again", extra=context(deferred_while_down=failures))


store_outage = StoreOutage()
