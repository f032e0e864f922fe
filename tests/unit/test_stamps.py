"""Event stamps: parsing, formatting, the per-process tiebreak, the future bound."""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sendx_worker.stamps import (
    MAX_FUTURE_SKEW_S,
    StampError,
    bounded,
    format_stamp,
    parse_stamp,
    stamp_from_datetime,
    stamp_now,
)


def test_stamps_of_one_process_strictly_increase_even_within_one_microsecond() -> None:
    stamps = [stamp_now() for _ in range(10_000)]
    assert all(a < b for a, b in itertools.pairwise(stamps))


def test_a_stamp_reads_back_from_its_text() -> None:
    assert parse_stamp("2026-11-28T02:27:04.123456Z") == stamp_from_datetime(
        datetime(2026, 11, 28, 2, 27, 4, 123456, tzinfo=UTC)
    )
    assert format_stamp(parse_stamp("2026-11-28T03:27:04.5+01:00")) == "2026-11-28T02:27:04.500000Z"


@given(st.datetimes(timezones=st.just(UTC), min_value=datetime(1971, 1, 1), max_value=datetime(9998, 1, 1)))
def test_format_and_parse_round_trip(moment: datetime) -> None:
    stamp = stamp_from_datetime(moment)
    assert parse_stamp(format_stamp(stamp)) == stamp


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])))
def test_the_offset_is_honoured(moment: datetime) -> None:
    assert stamp_from_datetime(moment) == stamp_from_datetime(moment.astimezone(UTC))


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("2026-11-28T02:27:04", "no UTC offset"),
        ("yesterday", "not an ISO 8601 time"),
        (1764296824, "must be an ISO 8601 string"),
        (None, "must be an ISO 8601 string"),
        ("2026-11-28T02:27:04.123456Z" + " " * 20, "at most"),
    ],
)
def test_a_bad_occurred_at_says_what_is_wrong(value: object, says: str) -> None:
    with pytest.raises(StampError, match=says):
        parse_stamp(value)


@given(st.text(max_size=60) | st.integers() | st.none() | st.floats())
def test_parse_stamp_raises_nothing_but_stamp_error(value: object) -> None:
    with contextlib.suppress(StampError):
        parse_stamp(value)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(StampError, match="timezone-aware"):
        stamp_from_datetime(datetime(2026, 1, 1))


def test_a_stamp_too_far_ahead_of_the_receiving_clock_is_replaced_by_the_receipt() -> None:
    received = parse_stamp("2026-11-28T00:00:00Z")
    within = received + int(MAX_FUTURE_SKEW_S * 1_000_000)
    assert bounded(within, received) == within
    assert bounded(within + 1, received) == received
    assert bounded(received - 10**12, received) == received - 10**12


@given(st.integers(min_value=-(10**16), max_value=253_402_300_799_999_999))
def test_a_stamp_is_formatted_as_datetime_isoformat_would_and_parses_back(stamp: int) -> None:
    seconds, micros = divmod(stamp, 1_000_000)
    moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)
    assert format_stamp(stamp) == moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
    assert parse_stamp(format_stamp(stamp)) == stamp
