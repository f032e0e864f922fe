"""Parse an HTTP ``Retry-After`` header into seconds to wait."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["parse_retry_after"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def parse_retry_after(value: str | None, *, now: Callable[[], datetime] = _utc_now) -> float | None:
    """Seconds to wait from a ``Retry-After`` value, at least 0; None when absent or unreadable.

    The value is delta-seconds (``"120"``; fractions tolerated) or an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``), measured against ``now()``. A date
    in the past or a negative number means "now": 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    seconds = _delta_seconds(text)
    if seconds is None:
        seconds = _seconds_until(text, now)
    if seconds is None or math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _delta_seconds(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _seconds_until(text: str, now: Callable[[], datetime]) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are always GMT; parsedate gives naive for "-0000".
        when = when.replace(tzinfo=UTC)
    return (when - now()).total_seconds()
