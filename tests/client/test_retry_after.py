"""Retry-After: delta-seconds or an HTTP-date, measured against a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sendx_worker.client import parse_retry_after

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def fixed_now() -> datetime:
    return NOW


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), ("0", 0.0), (" 7 ", 7.0), ("1.5", 1.5), ("-5", 0.0), ("-0.5", 0.0)],
)
def test_delta_seconds_are_read_as_seconds_and_negatives_as_zero(value: str, seconds: float) -> None:
    assert parse_retry_after(value, now=fixed_now) == seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("Thu, 26 Nov 2026 12:00:30 GMT", 30.0),
        ("Thu, 26 Nov 2026 13:00:00 GMT", 3600.0),
        ("Thursday, 26-Nov-26 12:01:00 GMT", 60.0),  # RFC 850, still legal to receive
        ("Thu Nov 26 12:00:05 2026", 5.0),  # asctime
        ("Thu, 26 Nov 2026 11:59:00 GMT", 0.0),  # already past
    ],
)
def test_an_http_date_is_read_as_seconds_from_now(value: str, seconds: float) -> None:
    assert parse_retry_after(value, now=fixed_now) == seconds


@pytest.mark.parametrize("value", [None, "", "   ", "soon", "12 seconds", "nan", "inf", "Thu, 99 Foo 2026"])
def test_garbage_or_a_missing_header_gives_none(value: str | None) -> None:
    assert parse_retry_after(value, now=fixed_now) is None


def test_without_a_clock_an_http_date_is_measured_against_the_real_time() -> None:
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT") == 0.0
    far = parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT")
    assert far is not None and far > 0
