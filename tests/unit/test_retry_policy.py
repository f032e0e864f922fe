"""The retry schedule and decisions, as numbers (jitter replaced by its upper bound)."""

from __future__ import annotations

import pytest

from sendx_worker.errors import (
    AuthError,
    ConnectionFailed,
    ContactNotFound,
    InvalidPayload,
    RateLimited,
    Rejected,
    ServerError,
)
from sendx_worker.retry import (
    CONTACT_NOT_FOUND_ATTEMPTS,
    DeadLetter,
    Retry,
    RetryPolicy,
    compute_backoff,
    countdown_for,
)


def upper(low: float, high: float) -> float:
    return high


def lower(low: float, high: float) -> float:
    return low


POLICY = RetryPolicy(base_s=5, cap_s=600, window_s=3600, jitter=upper)


def server_error(status: int = 503, *, reached: bool = False, retry_after: float | None = None) -> ServerError:
    return ServerError(
        "boom",
        method="POST",
        path="/contact/identify",
        status=status,
        may_have_reached_sendx=reached,
        retry_after_s=retry_after,
    )


def test_backoff_doubles_from_the_base_until_the_cap() -> None:
    delays = [compute_backoff(n, base_s=5, cap_s=600, jitter=upper) for n in range(1, 10)]
    assert delays == [5, 10, 20, 40, 80, 160, 320, 600, 600]


def test_full_jitter_draws_between_zero_and_the_exponential_ceiling() -> None:
    seen: list[tuple[float, float]] = []

    def record(low: float, high: float) -> float:
        seen.append((low, high))
        return (low + high) / 2

    assert compute_backoff(3, base_s=2, cap_s=100, jitter=record) == 4
    assert seen == [(0.0, 8.0)]


def test_retry_after_is_a_floor_for_the_delay() -> None:
    assert compute_backoff(1, base_s=5, cap_s=600, retry_after_s=30, jitter=lower) == 30
    assert compute_backoff(1, base_s=5, cap_s=600, retry_after_s=1, jitter=upper) == 5


def test_retry_after_is_clamped_to_the_cap() -> None:
    assert compute_backoff(1, base_s=5, cap_s=60, retry_after_s=86400, jitter=lower) == 60


def test_backoff_does_not_overflow_after_thousands_of_attempts() -> None:
    assert compute_backoff(5000, base_s=5, cap_s=600, jitter=upper) == 600


@pytest.mark.parametrize(("delay", "countdown"), [(0.0, 1), (0.05, 1), (0.999, 1), (1.0, 1), (1.2, 2), (2.0, 2)])
def test_countdowns_are_whole_seconds_rounded_up_and_at_least_one(delay: float, countdown: int) -> None:
    assert countdown_for(delay) == countdown


def test_a_transient_error_is_retried_inside_the_window() -> None:
    assert POLICY.decide(server_error(), attempt=1, elapsed_s=0) == Retry(5)


def test_a_transient_error_past_the_window_is_dead_lettered_as_retries_exhausted() -> None:
    assert POLICY.decide(server_error(), attempt=9, elapsed_s=3500) == DeadLetter("retries_exhausted")


def test_a_rate_limit_waits_at_least_its_retry_after() -> None:
    error = RateLimited("slow down", method="POST", path="/x", status=429, retry_after_s=42)
    assert POLICY.decide(error, attempt=1, elapsed_s=0) == Retry(42)


def test_credentials_rejected_are_retried_forever() -> None:
    error = AuthError("no", method="POST", path="/x", status=401)
    assert POLICY.decide(error, attempt=10_000, elapsed_s=10 * 86400) == Retry(600)


def test_a_rejected_request_is_dead_lettered_at_once() -> None:
    error = Rejected("bad email", method="POST", path="/x", status=422)
    assert POLICY.decide(error, attempt=1, elapsed_s=0) == DeadLetter("rejected")


def test_an_invalid_payload_is_dead_lettered_as_invalid_payload() -> None:
    assert POLICY.decide(InvalidPayload("bad"), attempt=1, elapsed_s=0) == DeadLetter("invalid_payload")


def test_an_unknown_contact_is_retried_a_few_times_then_rejected() -> None:
    error = ContactNotFound("who?", method="POST", path="/contact/track", status=404)
    decisions = [POLICY.decide(error, attempt=n, elapsed_s=0) for n in range(1, CONTACT_NOT_FOUND_ATTEMPTS + 1)]
    assert all(isinstance(d, Retry) for d in decisions[:-1])
    assert decisions[-1] == DeadLetter("rejected")
    assert sum(d.delay_s for d in decisions[:-1] if isinstance(d, Retry)) == 15 + 30 + 60 + 120


def test_increments_are_split_off_when_sendx_may_have_applied_them() -> None:
    decision = POLICY.decide(server_error(500, reached=True), attempt=1, elapsed_s=0, has_increments=True)
    assert decision == Retry(5, split_increments=True)


def test_increments_are_kept_when_sendx_certainly_did_not_apply_them() -> None:
    refused = ConnectionFailed("refused", method="POST", path="/x", may_have_reached_sendx=False)
    assert POLICY.decide(refused, attempt=1, elapsed_s=0, has_increments=True) == Retry(5)


def test_payloads_without_increments_are_never_split() -> None:
    decision = POLICY.decide(server_error(500, reached=True), attempt=1, elapsed_s=0, has_increments=False)
    assert decision == Retry(5)
