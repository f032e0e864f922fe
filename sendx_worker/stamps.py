"""When an event happened: the stamp that orders a contact's events.

An event's stamp travels in the task's kwargs as ``occurred_at``, an ISO 8601 string
with an explicit UTC offset (``"2026-11-28T02:27:04.123456Z"``). Inside sendx-worker a
stamp is an ``int`` of microseconds since the Unix epoch: cheap to compare and store.

``identify()``/``track()`` stamp each event at the call with :func:`stamp_now`, which
never returns the same value twice in one process and never goes backwards, so two
calls made one after the other in one process keep their order even when the wall
clock does not move (or steps back) between them. A foreign producer may send its own
stamp; a message without one is stamped by the worker that first receives it.

A stamp from a clock running ahead must not freeze a contact (every later event would
lose to it): :data:`MAX_FUTURE_SKEW_S` bounds how far ahead of the receiving clock a
stamp may be. The producer refuses a stamp past it; a worker replaces one with the time
it received the message (:func:`bounded`).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

__all__ = [
    "MAX_FUTURE_SKEW_S",
    "MAX_STAMP_TEXT",
    "StampError",
    "bounded",
    "format_stamp",
    "parse_stamp",
    "stamp_from_datetime",
    "stamp_now",
]

#: How far ahead of the receiving clock a stamp may be. NTP keeps servers within
#: milliseconds of each other; a minute forgives a badly kept clock while bounding the
#: damage of a wrong one to events of the next minute.
MAX_FUTURE_SKEW_S = 60.0
#: The longest ``occurred_at`` text accepted ("2026-11-28T02:27:04.123456+00:00" is 32).
MAX_STAMP_TEXT = 40

_MICROS = 1_000_000
_lock = threading.Lock()
_last = 0


class StampError(ValueError):
    """Raised when an ``occurred_at`` value is not an ISO 8601 time with a UTC offset."""


def stamp_now() -> int:
    """Now, in microseconds; strictly greater than any stamp this process returned before."""
    global _last
    now = time.time_ns() // 1000
    with _lock:
        _last = max(now, _last + 1)
        return _last


def stamp_from_datetime(moment: datetime) -> int:
    """The stamp of a timezone-aware datetime; raises StampError for a naive one."""
    if not isinstance(moment, datetime):
        raise StampError(f"must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise StampError("must be timezone-aware (e.g. datetime.now(timezone.utc)): a naive time is ambiguous")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * _MICROS + delta.microseconds


# The last second formatted: an unstamped message is stamped (and its stamp formatted)
# by the worker, many in one second. One tuple, so threads see the old pair or the new.
_formatted: tuple[int, str] = (-1, "")
# Seconds from 1970 to the end of 9999: strftime's %Y has four digits there, as isoformat's.
_FOUR_DIGIT_YEARS = 253_402_300_800


def format_stamp(stamp: int) -> str:
    """``1764296824123456`` -> ``"2025-11-28T02:27:04.123456Z"``."""
    global _formatted
    seconds, micros = divmod(stamp, _MICROS)
    second, text = _formatted
    if second != seconds:
        if not 0 <= seconds < _FOUR_DIGIT_YEARS:
            moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)
            return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _formatted = (seconds, text)
    return f"{text}.{micros:06d}Z"


def parse_stamp(text: object) -> int:
    """The stamp of an ``occurred_at`` value; raises StampError saying what is wrong."""
    if not isinstance(text, str):
        raise StampError("must be an ISO 8601 string such as '2026-11-28T02:27:04.123456Z'")
    if len(text) > MAX_STAMP_TEXT:
        raise StampError(f"must be at most {MAX_STAMP_TEXT} characters")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise StampError(f"{text!r} is not an ISO 8601 time such as '2026-11-28T02:27:04.123456Z'") from None
    if moment.tzinfo is None:
        raise StampError(f"{text!r} has no UTC offset: add 'Z' or '+00:00'")
    return stamp_from_datetime(moment)


def bounded(stamp: int, received: int) -> int:
    """``stamp``, or ``received`` when ``stamp`` is further ahead of it than :data:`MAX_FUTURE_SKEW_S`."""
    if stamp - received > MAX_FUTURE_SKEW_S * _MICROS:
        return received
    return stamp
