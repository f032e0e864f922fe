"""Putting a message back for later without spending one of its attempts.

A delivery that cannot go ahead for a reason that is not the message's (another
worker holds the contact's lease; the state store is unreachable; the circuit
breaker holds the team) publishes the same task again, with the same id, kwargs,
attempt count and first-attempt time, after ``countdown`` seconds, and then lets
the original be acknowledged. Unlike Celery's ``retry()`` this does not count an
attempt; unlike a broker requeue it does not count a delivery (RabbitMQ's
``x-delivery-count``, which would end in ``poison``), and the message waits in the
broker (RabbitMQ's delayed queues) or the worker (Redis, the embedded broker), not
spinning through the queue. If the worker dies between the publish and the
acknowledgement, the message exists twice: the per-contact deduplication sends it
once.
"""

from __future__ import annotations

from typing import Any

from celery.exceptions import Reject

from ..masking import masked_repr
from .attempt import FIRST_ATTEMPT_HEADER
from .base import SendxTask, header

__all__ = [
    "BREAKER_DEFERRALS_HEADER",
    "DEFERRALS_HEADER",
    "UNFINISHED_HEADER",
    "WAITED_HEADER",
    "defer",
    "unfinished_before",
]

#: How many times this message was deferred, for logs and a person reading headers.
DEFERRALS_HEADER = "sendx_deferrals"
#: Deliveries that began and never finished before the deferral (they count toward poison).
UNFINISHED_HEADER = "sendx_unfinished"
#: No more is read from UNFINISHED_HEADER: far above any SENDX_MAX_DELIVERIES in use.
MAX_UNFINISHED = 1000
#: How many times the circuit breaker deferred this message: a counter of its own, apart
#: from attempts (Celery's retries) and deliveries (poison), which a deferral never spends.
BREAKER_DEFERRALS_HEADER = "sendx_breaker_deferrals"
#: Seconds the message waited on the circuit breaker, which its retry window does not count.
WAITED_HEADER = "sendx_waited_s"
#: The headers of ours a deferred message keeps (the retry window counts from the first attempt).
CARRIED_HEADERS = (FIRST_ATTEMPT_HEADER, BREAKER_DEFERRALS_HEADER, WAITED_HEADER)


def unfinished_before(request: Any) -> int:
    """The unfinished deliveries a deferred message carries (0 for any other message)."""
    value = header(request, UNFINISHED_HEADER)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_UNFINISHED:
        return value
    return 0


def defer(
    task: SendxTask,
    kwargs: dict[str, Any],
    *,
    countdown: int,
    unfinished: int = 0,
    headers: dict[str, Any] | None = None,
) -> None:
    """Publish the running task again with ``kwargs`` after ``countdown`` whole seconds (at least 1).

    ``unfinished``: the deliveries before this one that began and never finished; the
    copy carries them, so that they still count toward ``poison``. Raises
    ``Reject(requeue=True)`` when the publish fails, so that the message goes back to
    the queue rather than being acknowledged and lost.
    """
    request = task.request
    deferrals = header(request, DEFERRALS_HEADER)
    # Only our own headers travel on, as with Celery's retry(): a broker's headers
    # (x-delivery-count, x-death) describe the old message, not the new one.
    carried = {name: header(request, name) for name in CARRIED_HEADERS}
    more = {
        **{name: value for name, value in carried.items() if value is not None},
        DEFERRALS_HEADER: (deferrals if isinstance(deferrals, int) else 0) + 1,
        UNFINISHED_HEADER: min(max(unfinished, 0), MAX_UNFINISHED),
        **(headers or {}),
    }
    signature = task.signature_from_request(
        request,
        (),
        kwargs,
        countdown=max(1, countdown),
        retries=request.retries or 0,
        headers=more,
        argsrepr="()",
        kwargsrepr=masked_repr(kwargs),
    )
    try:
        signature.apply_async()
    except Exception as exc:
        raise Reject(exc, requeue=True) from exc
