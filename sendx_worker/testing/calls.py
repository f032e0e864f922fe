"""What ``identify()``/``track()`` enqueue, as the testing kit records it, and the order SendX applies it in."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..settings import Flavor
from ..stamps import parse_stamp

__all__ = ["OPERATIONS", "RecordedCall", "describe_call", "describe_fields", "in_event_order", "python_name"]

Operation = Literal["identify", "track"]
#: Task name -> the producer function that enqueues it.
OPERATIONS: Mapping[str, Operation] = {"sendx.identify_contact": "identify", "sendx.track_tags": "track"}


@dataclass(frozen=True)
class RecordedCall:
    """One ``identify()``/``track()`` call, validated, exactly as it would have been enqueued."""

    operation: Operation
    task: str
    #: The task's kwargs as they would travel: ``payload`` (wire format), ``team``, ``occurred_at``.
    kwargs: Mapping[str, Any]
    #: The ``apply_async`` options the caller passed (``countdown``, ``headers``...).
    options: Mapping[str, Any]
    task_id: str
    flavor: Flavor
    #: The n-th call recorded (from 0): the tiebreak between equal stamps.
    sequence: int
    #: When it was recorded (microseconds, sendx_worker.stamps): the stamp of a call without ``occurred_at``.
    recorded_stamp: int = field(repr=False)

    @property
    def payload(self) -> dict[str, Any]:
        """The SendX body (camelCase wire names)."""
        payload: dict[str, Any] = self.kwargs["payload"]
        return payload

    @property
    def email(self) -> str:
        """The contact's e-mail address."""
        return str(self.payload["email"])

    @property
    def team(self) -> str | None:
        """The ``team=`` the call named, or None for the default team."""
        team = self.kwargs.get("team")
        return team if isinstance(team, str) else None

    @property
    def stamp(self) -> int:
        """When the event happened: its ``occurred_at``, else when it was recorded (as a worker stamps it)."""
        occurred_at = self.kwargs.get("occurred_at")
        return parse_stamp(occurred_at) if occurred_at is not None else self.recorded_stamp


def in_event_order(calls: Iterable[RecordedCall]) -> list[RecordedCall]:
    """The order in which SendX ends up applying a contact's events: by stamp, then call order.

    This is the one place that decides it (the per-contact ordering of the worker orders
    by ``occurred_at``; a call that carries none is stamped when it is recorded).
    """
    return sorted(calls, key=lambda call: (call.stamp, call.sequence))


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def python_name(wire_name: str) -> str:
    """``customFields`` -> ``custom_fields``: the argument name a caller wrote."""
    return _CAMEL.sub("_", wire_name).lower()


def describe_fields(payload: Mapping[str, Any], *, skip: Iterable[str] = ("email",)) -> str:
    """``first_name='Ada', tags=['Developer']``: a payload in the caller's own argument names."""
    skipped = set(skip)
    return ", ".join(f"{python_name(name)}={value!r}" for name, value in payload.items() if name not in skipped)


def describe_call(call: RecordedCall) -> str:
    """``identify('ada@example.com', first_name='Ada', team='eu')``: a call as the caller wrote it."""
    parts = [repr(call.email)]
    rest = describe_fields(call.payload)
    if rest:
        parts.append(rest)
    if call.team is not None:
        parts.append(f"team={call.team!r}")
    # occurred_at is left out: every call carries one (the moment of the call, unless the
    # app gave its own), and it orders the calls; it would only be noise in a message.
    return f"{call.operation}({', '.join(parts)})"
