"""The retry policy: how long to wait before the next attempt, and when to give up.

Pure functions of the attempt number, the error and the clock, so that the
schedule can be tested as numbers. Nothing here sleeps: the broker holds the delay.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .errors import ApiError, AuthError, ContactNotFound, InvalidPayload, PermanentError, TransientError

__all__ = [
    "CONTACT_NOT_FOUND_ATTEMPTS",
    "DeadLetter",
    "Decision",
    "Retry",
    "RetryPolicy",
    "compute_backoff",
    "countdown_for",
]

Jitter = Callable[[float, float], float]
"""Draws a delay between its two bounds; ``random.uniform`` in production."""

Reason = Literal["invalid_payload", "rejected", "retries_exhausted", "ambiguous_increment", "poison"]

# A track may race ahead of the identify that creates its contact; SendX then
# answers 404. Waiting a couple of minutes lets the identify land first.
CONTACT_NOT_FOUND_ATTEMPTS = 5
CONTACT_NOT_FOUND_BASE_FACTOR = 3.0


def compute_backoff(
    attempt: int,
    *,
    base_s: float,
    cap_s: float,
    retry_after_s: float | None = None,
    jitter: Jitter = random.uniform,
) -> float:
    """The delay before retrying after failed attempt number ``attempt`` (1-based).

    Exponential backoff with full jitter: a uniform draw from
    ``[0, min(cap, base * 2**(attempt-1))]``, which spreads a backlog's retries out
    instead of having them hit SendX in waves. A server's ``Retry-After`` is a floor
    (SendX knows best when it can take more), clamped to the cap so that a bogus
    header cannot park a message for days.
    """
    # The exponent is bounded so that attempt 10,000 of a days-long outage cannot overflow.
    ceiling = min(cap_s, base_s * 2.0 ** min(max(attempt - 1, 0), 64))
    delay = jitter(0.0, ceiling)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, cap_s))
    return delay


def countdown_for(delay_s: float) -> int:
    """The countdown to publish a retry with: whole seconds, rounded up, at least one.

    RabbitMQ's native delayed delivery counts whole seconds, truncating, and Celery
    5.7 rejects a countdown between 0 and 1 there outright; rounding up keeps every
    Retry-After floor and costs at most a second.
    """
    return max(1, math.ceil(delay_s))


@dataclass(frozen=True)
class Retry:
    """Publish the message again after ``delay_s``; ``split_increments`` drops ``++``/``--`` from it."""

    delay_s: float
    split_increments: bool = False


@dataclass(frozen=True)
class DeadLetter:
    """Give up on the message: dead-letter it with ``reason``."""

    reason: Reason


Decision = Retry | DeadLetter


@dataclass(frozen=True)
class RetryPolicy:
    """The retry settings, and the one function that turns a failure into a decision."""

    base_s: float
    cap_s: float
    window_s: float
    jitter: Jitter = random.uniform

    def decide(
        self,
        error: ApiError,
        *,
        attempt: int,
        elapsed_s: float,
        has_increments: bool = False,
    ) -> Decision:
        """What to do after failed attempt ``attempt``, ``elapsed_s`` after the first one.

        - invalid payload: dead-letter as ``invalid_payload``;
        - 401/403: our credentials are wrong, not the message: retry, with no deadline;
        - 404 on track: retry a few times over a couple of minutes, then ``rejected``;
        - any other permanent error: dead-letter as ``rejected``;
        - transient: retry until ``window_s`` after the first attempt, then
          ``retries_exhausted``; when SendX may already have applied ``++``/``--``
          increments, retry without them (the caller dead-letters them alone).
        """
        if isinstance(error, InvalidPayload):
            return DeadLetter("invalid_payload")
        if isinstance(error, AuthError):
            return Retry(self._backoff(attempt, error))
        if isinstance(error, ContactNotFound):
            if attempt >= CONTACT_NOT_FOUND_ATTEMPTS:
                return DeadLetter("rejected")
            base = self.base_s * CONTACT_NOT_FOUND_BASE_FACTOR
            return Retry(compute_backoff(attempt, base_s=base, cap_s=self.cap_s, jitter=self.jitter))
        if isinstance(error, PermanentError):
            return DeadLetter("rejected")
        if isinstance(error, TransientError):
            delay = self._backoff(attempt, error)
            if elapsed_s + delay > self.window_s:
                return DeadLetter("retries_exhausted")
            return Retry(delay, split_increments=has_increments and error.may_have_reached_sendx)
        # An ApiError outside the tree's branches is a bug in classification.
        return DeadLetter("rejected")

    def _backoff(self, attempt: int, error: ApiError) -> float:
        return compute_backoff(
            attempt, base_s=self.base_s, cap_s=self.cap_s, retry_after_s=error.retry_after_s, jitter=self.jitter
        )
