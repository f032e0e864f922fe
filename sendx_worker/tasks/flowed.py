"""An attempt admitted by flow control: it holds while the circuit is open, then defers.

A message that meets an open circuit (or a full set of slots, or a fleet-wide
``Retry-After``) waits in its worker thread for up to ``SENDX_HOLD_S``; if the circuit
closes, or this process wins the fleet's one probe, it goes ahead. Otherwise it is
deferred (:mod:`.defer`) to about when the next probe is due: no attempt is spent,
and the time it waited is carried in :data:`WAITED_HEADER` so that its retry window
does not count it. Deferred copies still carry their unfinished deliveries, so poison
detection is intact.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

from celery.utils.log import get_task_logger

from ..flow.team import Permit
from ..logs import context
from .attempt import Attempt
from .base import SendxTask, header
from .defer import BREAKER_DEFERRALS_HEADER, WAITED_HEADER, defer
from .outcomes import task_kwargs

__all__ = ["admit", "waited_before"]

logger = get_task_logger("sendx_worker.tasks.delivery")

#: A deferred message comes back up to this fraction later than the next probe, so a
#: backlog does not return in one burst.
DEFER_SPREAD = 0.25
#: No more is read from WAITED_HEADER than this (a year): a bad header cannot buy an endless window.
MAX_WAITED_S = 365 * 86400.0


def waited_before(request: object) -> float:
    """Seconds a message waited on the breaker before this delivery (0 for any other message)."""
    value = header(request, WAITED_HEADER)
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= MAX_WAITED_S:
        return float(value)
    return 0.0


def admit(task: SendxTask, attempt: Attempt) -> tuple[Attempt, Permit | None] | None:
    """Flow control's leave for ``attempt`` to call SendX, and the attempt with its wait counted.

    ``(attempt, None)`` with SENDX_FLOW_CONTROL=off; None when the message was deferred
    (raises ``Reject(requeue=True)`` if the deferral could not be published).
    """
    gate = task.flow_gate()
    if gate is None:
        return attempt, None
    got = gate.admit(attempt.team)
    if isinstance(got, Permit):
        return replace(attempt, waited_s=attempt.waited_s + got.held_s), got
    countdown = math.ceil(got + random.uniform(0, DEFER_SPREAD * got))
    deferrals = header(task.request, BREAKER_DEFERRALS_HEADER)
    waited = attempt.waited_s + gate.settings.hold_s + countdown
    defer(
        task,
        task_kwargs(attempt, attempt.payload),
        countdown=countdown,
        unfinished=attempt.unfinished,
        headers={
            WAITED_HEADER: round(min(waited, MAX_WAITED_S), 3),
            BREAKER_DEFERRALS_HEADER: (deferrals if isinstance(deferrals, int) else 0) + 1,
        },
    )
    logger.debug("circuit open; deferred", extra=context(**attempt.log_fields(outcome="deferred", delay_s=countdown)))
    return None
