"""Whether a worker would accept a message: the worker's own checks, run on a message taken from a broker."""

from __future__ import annotations

import time
from typing import Any

from marshmallow import ValidationError

from sendx_worker.errors import InvalidPayload
from sendx_worker.tasks.attempt import check_arguments
from sendx_worker.tasks.operations import IDENTIFY, TRACK
from sendx_worker.worker.guard import refusal_of

OPERATIONS = {IDENTIFY.task_name: IDENTIFY, TRACK.task_name: TRACK}
# SENDX_RETRY_CAP_S's default, plus the consumer's clock-skew allowance.
MAX_ETA_AHEAD_S = 600 + 60


def worker_refusal(message: Any, flavor: Any = "v1") -> str | None:
    """Why a worker would dead-letter ``message`` as invalid_payload, or None when it would deliver it."""
    refusal = refusal_of(message, now=time.time(), max_eta_ahead_s=MAX_ETA_AHEAD_S)
    if refusal is not None:
        return refusal.error
    args, kwargs, _embed = message.decode()
    try:
        payload, _team = check_arguments(tuple(args), kwargs)
        OPERATIONS[message.headers["task"]].load(payload, flavor)
    except (InvalidPayload, ValidationError) as exc:
        return str(exc)
    return None
