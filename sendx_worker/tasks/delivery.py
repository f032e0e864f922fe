"""One delivery attempt: validate, call SendX, then deliver, retry or dead-letter.

The task functions are thin; this is where an attempt begins: its arguments are
checked, its payload validated, poison is caught, and the attempt goes to SendX in
its contact's order (:mod:`.ordered`) or, with ``SENDX_ORDERING=off``, as it comes.
How an outcome is carried out is :mod:`.outcomes`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

from celery.exceptions import Reject, Retry
from celery.utils.log import get_task_logger

from ..deadletter.pending import pending_of, write_pending
from ..logs import context
from ..masking import mask_text
from ..worker.deliveries import DeliveryCounter, broker_delivery_count, delivery_key
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
from .defer import unfinished_before
from .flowed import admit, waited_before
from .operations import Operation
from .ordered import attempt_in_order
from .outcomes import dead_letter, failed_with, set_increments_aside

__all__ = ["FIRST_ATTEMPT_HEADER", "deliver"]

logger = get_task_logger(__name__)


def deliver(task: SendxTask, operation: Operation, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """Run one attempt of ``operation``; returns its outcome ("delivered", "dead_lettered", ...).

    Raises Celery's ``Retry`` once a retry is published, and ``Reject(requeue=True)``
    when neither a retry nor a dead letter could be published, so that the message
    goes back to the queue instead of being acknowledged and lost.
    """
    request = task.request
    team = kwargs.get("team")
    occurred_at = kwargs.get("occurred_at")
    attempt = Attempt(
        operation=operation,
        task_id=str(request.id),
        number=int(request.retries or 0) + 1,
        first_at=first_attempt_at(request),
        payload=kwargs.get("payload"),
        team=team if isinstance(team, str) else None,
        occurred_at=occurred_at if isinstance(occurred_at, str) else None,
        waited_s=waited_before(request),
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
        # A deferred message is a new message to the broker: it carries the count of
        # the unfinished deliveries before it, or one that kills every worker after a
        # deferral (its contact's lease held by the worker it killed) would never end.
        starts = (counter.started(key) if counter else _broker_count(request)) + unfinished_before(request)
        attempt = replace(attempt, unfinished=starts - 1)
        if starts > task.settings.max_deliveries:
            error = f"the message was delivered {starts} times without finishing; it kills or stalls its worker"
            outcome = dead_letter(task, attempt, "poison", attempt.payload, error=error)
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
        # A requeued message keeps this start counted, as RabbitMQ counts a requeue in
        # x-delivery-count: its next delivery knows (earlier_unfinished) not to resend
        # its increments, and a message requeued over and over ends as poison instead
        # of looping (one was requeued 668 times in 10 s when the count was forgotten).
        if counter and outcome != "requeued":
            _forget_delivery(counter, key)


def _broker_count(request: Any) -> int:
    info = getattr(request, "delivery_info", None)
    redelivered = info.get("redelivered") if isinstance(info, Mapping) else False
    return broker_delivery_count(redelivered, header(request, "x-delivery-count"))


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
        stamp = attempt.stamp()
        client = client_for_team(task, team)
    except Exception as exc:
        return failed_with(task, attempt, exc)
    # Flow control admits the call (holding while the team's circuit is open) before the
    # contact's lease is taken, so that a held message never holds its contact.
    admitted = admit(task, attempt)
    if admitted is None:
        return "deferred"
    attempt, progress.permit = admitted
    with progress.permit or nullcontext():
        return _send(task, attempt, payload, client, progress, stamp=stamp, earlier_unfinished=earlier_unfinished)


def _send(
    task: SendxTask,
    attempt: Attempt,
    payload: dict[str, Any],
    client: Any,
    progress: Progress,
    *,
    stamp: int | None,
    earlier_unfinished: bool,
) -> str:
    flavor = task.settings.api_flavor
    if task.settings.ordering:
        return attempt_in_order(task, attempt, payload, client, progress, stamp=stamp)
    if earlier_unfinished:
        # Outside the try: a dead letter that cannot be published must requeue the
        # message (deliver), not schedule a retry that would still carry the increments.
        attempt = set_increments_aside(task, attempt)
        payload = validated(attempt.operation, attempt.payload, flavor)
    started = time.monotonic()
    try:
        with progress.calling():
            attempt.operation.send(client, payload)
    except Exception as exc:
        return failed_with(task, attempt, exc)
    latency_ms = round((time.monotonic() - started) * 1000, 1)
    logger.info("delivered", extra=context(**attempt.log_fields(outcome="delivered", latency_ms=latency_ms)))
    return "delivered"
