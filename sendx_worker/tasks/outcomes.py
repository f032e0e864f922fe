"""Carrying out an attempt's outcome: retry it, dead-letter it, or set its increments aside.

The decision itself is :meth:`~sendx_worker.retry.RetryPolicy.decide`; the delivery
paths (:mod:`.delivery`, :mod:`.ordered`) call these once they know what happened.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from celery.utils.log import get_task_logger

from ..deadletter import DeadLetterRecord, Reason, iso_utc, new_record_id
from ..deadletter.pending import write_or_set_aside
from ..errors import ApiError, AuthError, ServerError
from ..logs import context
from ..masking import mask_text
from ..retry import DeadLetter, countdown_for
from ..retry import Retry as RetryDecision
from ..worker.health import health
from .attempt import FIRST_ATTEMPT_HEADER, Attempt
from .base import SendxTask
from .defer import WAITED_HEADER
from .operations import IDENTIFY, split_increments

__all__ = [
    "UNFINISHED_EARLIER_DELIVERY",
    "dead_letter",
    "dead_letter_increments",
    "failed_with",
    "set_increments_aside",
    "task_kwargs",
]

logger = get_task_logger("sendx_worker.tasks.delivery")

# The ambiguous-increment record's error when an earlier delivery of the same message
# started and never finished: that delivery may have reached SendX before it died.
UNFINISHED_EARLIER_DELIVERY = (
    "an earlier delivery of this message started and did not finish (its worker died, or lost "
    "the broker before the outcome was recorded); SendX may have applied these increments; not resent"
)


def task_kwargs(attempt: Attempt, payload: Any) -> dict[str, Any]:
    """The kwargs that publish ``attempt``'s task again (a retry, a deferral) with ``payload``."""
    kwargs: dict[str, Any] = {"payload": payload}
    if attempt.team is not None:
        kwargs["team"] = attempt.team
    if attempt.occurred_at is not None:
        kwargs["occurred_at"] = attempt.occurred_at
    return kwargs


def failed_with(task: SendxTask, attempt: Attempt, exc: Exception) -> str:
    """Retry or dead-letter ``attempt`` after ``exc``; returns "dead_lettered" or raises Celery's Retry."""
    if isinstance(exc, ApiError):
        return _failed(task, attempt, exc)
    # Our own bug or an unexpected environment problem: retry within the window,
    # so that a fix deployed in time still lets the message through.
    logger.error("unexpected error", exc_info=True, extra=context(**attempt.log_fields()))
    return _failed(task, attempt, ServerError(f"unexpected {type(exc).__name__}: {exc}", method="-", path="-"))


def set_increments_aside(task: SendxTask, attempt: Attempt) -> Attempt:
    """An earlier delivery may have applied this identify's increments: dead-letter them, go on without.

    A worker killed (or cut off from the broker) after its call reached SendX leaves
    the message unacknowledged, and the broker delivers it again. Everything else in
    an identify is idempotent; ``++``/``--`` are not, so they go to a person as
    ``ambiguous_increment`` and the rest is delivered.
    """
    if attempt.operation is not IDENTIFY or not isinstance(attempt.payload, Mapping):
        return attempt
    if not split_increments(attempt.payload)[1]:
        return attempt
    rest = dead_letter_increments(task, attempt, error=UNFINISHED_EARLIER_DELIVERY)
    return replace(attempt, payload=rest)


def dead_letter_increments(task: SendxTask, attempt: Attempt, *, error: str, cause: ApiError | None = None) -> Any:
    """Dead-letter the identify's ``++``/``--`` fields alone as ``ambiguous_increment``; returns the rest."""
    rest, increments = split_increments(attempt.payload)
    ambiguous = {"email": rest.get("email"), "customFields": increments}
    dead_letter(task, attempt, "ambiguous_increment", ambiguous, error=error, cause=cause, then=rest)
    return rest


def _failed(task: SendxTask, attempt: Attempt, error: ApiError) -> str:
    payload = attempt.payload if isinstance(attempt.payload, Mapping) else {}
    increments = split_increments(payload)[1] if attempt.operation is IDENTIFY and payload else {}
    decision = task.policy.decide(
        error,
        attempt=attempt.number,
        # Time spent waiting on the circuit breaker is not the message's to pay for.
        elapsed_s=max(time.time() - attempt.first_at - attempt.waited_s, 0.0),
        has_increments=bool(increments),
    )
    if isinstance(decision, DeadLetter):
        return dead_letter(task, attempt, decision.reason, attempt.payload, error=str(error), cause=error)
    _retry(task, attempt, decision, error)
    raise AssertionError("unreachable: _retry raises")


def _retry(task: SendxTask, attempt: Attempt, decision: RetryDecision, error: ApiError) -> None:
    payload = dict(attempt.payload)
    if decision.split_increments:
        payload = dead_letter_increments(
            task,
            attempt,
            error=f"SendX may have applied these increments before failing ({error}); not resent",
            cause=error,
        )
    countdown = countdown_for(decision.delay_s)
    fields = attempt.log_fields(outcome="retry", status=error.status, delay_s=countdown, error=mask_text(str(error)))
    if isinstance(error, AuthError):
        # Not the message's fault: the whole backlog waits for a fixed key.
        health.auth_rejected()
        logger.error("SendX rejected the credentials; retry scheduled", extra=context(**fields))
    else:
        logger.info("retry scheduled", extra=context(**fields))
    headers: dict[str, Any] = {FIRST_ATTEMPT_HEADER: attempt.first_at}
    if attempt.waited_s:
        headers[WAITED_HEADER] = round(attempt.waited_s, 3)
    task.republish(task_kwargs(attempt, payload), countdown=countdown, headers=headers)


def dead_letter(
    task: SendxTask,
    attempt: Attempt,
    reason: Reason,
    payload: Any,
    *,
    error: str,
    cause: ApiError | None = None,
    then: Any = None,
) -> str:
    """Publish a dead-letter record for ``attempt`` holding ``payload``; returns "dead_lettered".

    A record that cannot be written is set aside on the message (raises Celery's Retry),
    so that SendX is not called again to make it anew; ``then`` is the payload the
    attempt goes on with after the record (None: the record is its outcome).
    """
    record = DeadLetterRecord(
        id=new_record_id(),
        task=attempt.operation.task_name,
        payload=payload,
        reason=reason,
        status=cause.status if cause else None,
        error=mask_text(error),
        attempts=attempt.number,
        first_attempt_at=iso_utc(attempt.first_at),
        dead_lettered_at=iso_utc(),
        task_id=attempt.task_id,
        team=attempt.team,
        evidence=cause.evidence() if cause else {},
        occurred_at=attempt.occurred_at,
    )
    write_or_set_aside(task, attempt, record, then=then)
    task.observer.dead_lettered(attempt.operation.name, reason)
    logger.warning(
        "dead-lettered",
        extra=context(**attempt.log_fields(outcome="dead_lettered", reason=reason, status=record.status, id=record.id)),
    )
    return "dead_lettered"
