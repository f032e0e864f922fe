"""The Celery publishing options ``identify()`` and ``track()`` accept, each checked.

Only options a worker will honour are accepted; any other keyword is a ``TypeError``,
as in any Python call, so that ``identify(email, firstname="Ann")`` fails loudly
instead of passing ``firstname`` to Celery, which ignores it. A bad value is a
``ValidationError`` naming the option.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import ValidationError

from .limits import MAX_HEADER_TEXT, MAX_TASK_ID

__all__ = ["PUBLISH_OPTIONS", "RESERVED_HEADERS", "check_options"]

#: ``apply_async`` options passed on to Celery.
PUBLISH_OPTIONS = frozenset({"countdown", "eta", "expires", "priority", "task_id", "headers"})
#: Header names Celery's protocol, the broker or sendx-worker itself give a meaning.
RESERVED_HEADERS = frozenset(
    {
        "lang", "task", "id", "shadow", "eta", "expires", "group", "group_index", "retries", "timelimit",
        "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin", "ignore_result", "replaced_task_nesting",
        "stamped_headers", "stamps", "callbacks", "errbacks", "chain", "chord", "compression",
        "sendx_first_attempt_at", "sendx_replay_of",
    }
)  # fmt: skip


def check_options(function: str, options: Mapping[str, Any], *, max_delay_s: float | None) -> dict[str, Any]:
    """The publishing ``options``, checked; ``max_delay_s``: the longest countdown a worker holds (None: no limit).

    Raises TypeError for an option that does not exist, ValidationError for a bad value.
    """
    unknown = sorted(set(options) - PUBLISH_OPTIONS)
    if unknown:
        raise TypeError(
            f"{function}() got an unexpected keyword argument {unknown[0]!r} "
            f"(publishing options: {', '.join(sorted(PUBLISH_OPTIONS))})"
        )
    errors: dict[str, list[str]] = {}
    for name, value in options.items():
        problem = _PROBLEMS[name](value, max_delay_s)
        if problem is not None:
            errors[name] = [problem]
    if errors:
        raise ValidationError(errors)
    return dict(options)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _delay_problem(seconds: float, max_delay_s: float | None) -> str | None:
    if seconds < 0:
        return "Must not be in the past."
    if max_delay_s is not None and seconds > max_delay_s:
        return (
            f"At most {max_delay_s:g} s ahead on this broker (SENDX_RETRY_CAP_S): a worker holds a delayed "
            "message in memory, and one held longer is redelivered by the broker."
        )
    return None


def _countdown(value: Any, max_delay_s: float | None) -> str | None:
    seconds = _seconds(value)
    if seconds is None:
        return "Must be a number of seconds."
    return _delay_problem(seconds, max_delay_s)


def _eta(value: Any, max_delay_s: float | None) -> str | None:
    if not isinstance(value, datetime):
        return "Must be a datetime."
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        ahead = (moment - datetime.now(UTC)) / timedelta(seconds=1)
    except OverflowError:
        return "Is out of range."
    return _delay_problem(max(ahead, 0.0), max_delay_s)


def _expires(value: Any, max_delay_s: float | None) -> str | None:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return None if moment > datetime.now(UTC) else "Must be in the future."
    seconds = _seconds(value)
    if seconds is None or seconds <= 0:
        return "Must be a datetime or a positive number of seconds."
    return None


def _priority(value: Any, max_delay_s: float | None) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
        return "Must be a whole number from 0 to 255."
    return None


def _task_id(value: Any, max_delay_s: float | None) -> str | None:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TASK_ID or not value.isprintable():
        return f"Must be printable text of 1 to {MAX_TASK_ID} characters."
    return None


def _headers(value: Any, max_delay_s: float | None) -> str | None:
    if not isinstance(value, Mapping):
        return "Must be a mapping of header names to values."
    for name, item in value.items():
        if not isinstance(name, str) or not 0 < len(name) <= 64 or not name.isprintable():
            return "Header names must be printable text of 1 to 64 characters."
        if name in RESERVED_HEADERS or name.startswith("x-"):
            return f"{name!r} is reserved for Celery, the broker or sendx-worker."
        if isinstance(item, str):
            if len(item) > MAX_HEADER_TEXT or not item.isprintable():
                return f"Header values must be printable text of at most {MAX_HEADER_TEXT} characters."
        elif isinstance(item, int) and not isinstance(item, bool) and not -(2**63) <= item < 2**63:
            return "Header values that are whole numbers must fit in 64 bits."
        elif not (item is None or isinstance(item, bool | int) or _seconds(item) is not None):
            return "Header values must be text, numbers, booleans or None."
    return None


_PROBLEMS = {
    "countdown": _countdown,
    "eta": _eta,
    "expires": _expires,
    "priority": _priority,
    "task_id": _task_id,
    "headers": _headers,
}
