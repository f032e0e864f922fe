"""One delivery attempt: validate, call SendX, then deliver, retry or dead-letter.

The task functions are thin; this is where an attempt's outcome is carried out.
The decision itself is :meth:`RetryPolicy.decide`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from celery.exceptions import Reject, Retry
from celery.utils.log import get_task_logger

from ..deadletter import DeadLetterRecord, Reason, iso_utc, new_record_id
from ..deadletter.pending import pending_of, write_or_set_aside, write_pending
from ..errors import ApiError, AuthError, ServerError
from ..logs import context
from ..masking import mask_text
from ..retry import DeadLetter, countdown_for
from ..retry import Retry as RetryDecision
from ..worker.deliveries import DeliveryCounter, delivery_key
from ..worker.health import health
from .attempt import (
    FIRST_ATTEMPT_HEADER,
    Attempt,
    Progress,
    check_arguments,
    client_for_team,
    first_attempt_at,
    validated,
)
from .base import SendxTask, header
from .operations import IDENTIFY, Operation, split_increments

__all__ = ["FIRST_ATTEMPT_HEADER", "deliver"]

logger = get_task_logger(__name__)

# The ambiguous-increment record's error when an earlier delivery of the same message
# started and never finished: that delivery may have reached SendX before it died.
UNFINISHED_EARLIER_DELIVERY = (
    "an earlier delivery of this message started and did not finish (its worker died, or lost "
    "the broker before the outcome was recorded); SendX may have applied these increments; not resent"
)


def deliver(task: SendxTask, operation: Operation, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """Run one attempt of ``operation``; returns "delivered" or "dead_lettered".

    Raises Celery's ``Retry`` once a retry is published, and ``Reject(requeue=True)``
    when neither a retry nor a dead letter could be published, so that the message
    goes back to the queue instead of being acknowledged and lost.
    """
    request = task.request
    team = kwargs.get("team")
    attempt = Attempt(
        operation=operation,
        task_id=str(request.id),
        number=int(request.retries or 0) + 1,
        first_at=first_attempt_at(request),
        payload=kwargs.get("payload"),
        team=team if isinstance(team, str) else None,
    )
    key = delivery_key(attempt.task_id, attempt.number - 1)
    counter = task.delivery_counter()
    task.observer.task_started(operation.name)
    outcome = "requeued"
    progress = Progress()
    try:
        # A dead letter this message carries (it could not be written before) is written
        # first; when it was the outcome, nothing else is done: SendX is not called again.
        if (carried := pending_of(request)) is not None:
            write_pending(task, attempt, carried)
            if carried.final:
                outcome = "dead_lettered"
                return outcome
        # Counted where the broker cannot count for us; if even that store is
        # unreachable (Redis restarting), the message goes back rather than
        # failing the task, which Celery would acknowledge.
        starts = counter.started(key) if counter else int(header(request, "x-delivery-count") or 0) + 1
        if starts > task.settings.max_deliveries:
            error = f"the message was delivered {starts} times without finishing; it kills or stalls its worker"
            outcome = _dead_letter(task, attempt, "poison", attempt.payload, error=error)
        else:
            outcome = _attempt(task, attempt, args, kwargs, progress, earlier_unfinished=starts > 1)
        return outcome
    except Retry:
        outcome = "retried"
        raise
    except Reject:
        raise
    except Exception as exc:  # publishing a retry or a dead letter failed: keep the message
        logger.error("requeued", exc_info=True, extra=context(**attempt.log_fields(error=mask_text(str(exc)))))
        raise Reject(exc, requeue=True) from exc
    finally:
        task.observer.task_finished(operation.name, outcome)
        # A message requeued after its call may have reached SendX keeps this start
        # counted, so that its next delivery knows (earlier_unfinished) not to resend
        # its increments. RabbitMQ counts the requeue itself (x-delivery-count).
        if counter and not (outcome == "requeued" and progress.called_sendx):
            _forget_delivery(counter, key)


def _forget_delivery(counter: DeliveryCounter, key: str) -> None:
    # A count left behind only makes a later poison verdict come one delivery
    # sooner, and it expires; it must not turn a finished task into a failure.
    try:
        counter.finished(key)
    except Exception:
        logger.warning("could not clear a delivery count", exc_info=True, extra=context(key=key))


def _attempt(
    task: SendxTask,
    attempt: Attempt,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    progress: Progress,
    *,
    earlier_unfinished: bool,
) -> str:
    flavor = task.settings.api_flavor
    try:
        payload, team = check_arguments(args, kwargs)
        payload = validated(attempt.operation, payload, flavor)
        client = client_for_team(task, team)
    except Exception as exc:
        return _failed_with(task, attempt, exc)
    if earlier_unfinished:
        # Outside the try: a dead letter that cannot be published must requeue the
        # message (deliver), not schedule a retry that would still carry the increments.
        attempt = _set_increments_aside(task, attempt)
        payload = validated(attempt.operation, attempt.payload, flavor)
    started = time.monotonic()
    try:
        progress.called_sendx = True
        attempt.operation.send(client, payload)
    except Exception as exc:
        return _failed_with(task, attempt, exc)
    latency_ms = round((time.monotonic() - started) * 1000, 1)
    logger.info("delivered", extra=context(**attempt.log_fields(outcome="delivered", latency_ms=latency_ms)))
    return "delivered"


def _failed_with(task: SendxTask, attempt: Attempt, exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return _failed(task, attempt, exc)
    # Our own bug or an unexpected environment problem: retry within the window,
    # so that a fix deployed in time still lets the message through.
    logger.error("unexpected error", exc_info=True, extra=context(**attempt.log_fields()))
    return _failed(task, attempt, ServerError(f"unexpected {type(exc).__name__}: {exc}", method="-", path="-"))


def _set_increments_aside(task: SendxTask, attempt: Attempt) -> Attempt:
    """An earlier delivery may have applied this identify's increments: dead-letter them, go on without.

    A worker killed (or cut off from the broker) after its call reached SendX leaves
    the message unacknowledged, and the broker delivers it again. Everything else in
    an identify is idempotent; ``++``/``--`` are not, so they go to a person as
    ``ambiguous_increment`` and the rest is delivered. A redelivered message that never
    reached SendX (prefetched by the dead worker, say) loses its increments to the
    same rule: a person decides, which is the price of never applying one twice.
    """
    if attempt.operation is not IDENTIFY or not isinstance(attempt.payload, Mapping):
        return attempt
    if not split_increments(attempt.payload)[1]:
        return attempt
    rest = _dead_letter_increments(task, attempt, error=UNFINISHED_EARLIER_DELIVERY)
    return replace(attempt, payload=rest)


def _dead_letter_increments(task: SendxTask, attempt: Attempt, *, error: str, cause: ApiError | None = None) -> Any:
    """Dead-letter the identify's ``++``/``--`` fields alone as ``ambiguous_increment``; returns the rest."""
    rest, increments = split_increments(attempt.payload)
    ambiguous = {"email": rest.get("email"), "customFields": increments}
    _dead_letter(task, attempt, "ambiguous_increment", ambiguous, error=error, cause=cause, then=rest)
    return rest


def _failed(task: SendxTask, attempt: Attempt, error: ApiError) -> str:
    payload = attempt.payload if isinstance(attempt.payload, Mapping) else {}
    increments = split_increments(payload)[1] if attempt.operation is IDENTIFY and payload else {}
    decision = task.policy.decide(
        error,
        attempt=attempt.number,
        elapsed_s=max(time.time() - attempt.first_at, 0.0),
        has_increments=bool(increments),
    )
    if isinstance(decision, DeadLetter):
        return _dead_letter(task, attempt, decision.reason, attempt.payload, error=str(error), cause=error)
    _retry(task, attempt, decision, error)
    raise AssertionError("unreachable: _retry raises")


def _retry(task: SendxTask, attempt: Attempt, decision: RetryDecision, error: ApiError) -> None:
    payload = dict(attempt.payload)
    if decision.split_increments:
        payload = _dead_letter_increments(
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
    kwargs: dict[str, Any] = {"payload": payload}
    if attempt.team is not None:
        kwargs["team"] = attempt.team
    task.republish(kwargs, countdown=countdown, headers={FIRST_ATTEMPT_HEADER: attempt.first_at})


def _dead_letter(
    task: SendxTask,
    attempt: Attempt,
    reason: Reason,
    payload: Any,
    *,
    error: str,
    cause: ApiError | None = None,
    then: Any = None,
) -> str:
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
    )
    # A record that cannot be written is set aside on the message (raises Retry), so that
    # SendX is not called again to make it anew; ``then`` is what the attempt goes on with.
    write_or_set_aside(task, attempt, record, then=then)
    task.observer.dead_lettered(attempt.operation.name, reason)
    logger.warning(
        "dead-lettered",
        extra=context(**attempt.log_fields(outcome="dead_lettered", reason=reason, status=record.status, id=record.id)),
    )
    return "dead_lettered"
