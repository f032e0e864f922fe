"""What one delivery attempt is: its message, its arguments checked, its payload validated."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from marshmallow import ValidationError

from ..errors import ConfigurationError, InvalidPayload
from ..limits import team_problem
from ..masking import mask_email
from ..schemas import describe_errors
from ..settings import Flavor
from ..stamps import StampError, parse_stamp
from ..worker.guard import ALLOWED_KWARGS
from .base import SendxTask, header
from .operations import Operation

if TYPE_CHECKING:
    from ..flow.team import Permit

__all__ = [
    "FIRST_ATTEMPT_HEADER",
    "Attempt",
    "Progress",
    "check_arguments",
    "client_for_team",
    "first_attempt_at",
    "validated",
]

# Carried on every retry so that the retry window counts from the first attempt.
FIRST_ATTEMPT_HEADER = "sendx_first_attempt_at"


@dataclass
class Progress:
    """How far an attempt got: whether a request may have left for SendX."""

    called_sendx: bool = False
    #: Flow control's leave to call (None: SENDX_FLOW_CONTROL=off); told how the call went.
    permit: Permit | None = None

    @contextmanager
    def calling(self) -> Iterator[None]:
        """Around the one call to SendX: marks that a request may have left, and tells flow control how it went."""
        self.called_sendx = True
        try:
            yield
        except BaseException as exc:
            if self.permit is not None:
                self.permit.record(exc)
            raise
        if self.permit is not None:
            self.permit.record(None)


@dataclass(frozen=True)
class Attempt:
    """Who is being delivered, and for the how-manieth time."""

    operation: Operation
    task_id: str
    number: int
    first_at: float
    payload: Any
    team: str | None
    #: When the event happened, as it travels (``occurred_at``); None: not stamped yet.
    occurred_at: str | None = None
    #: Deliveries of this message (and of the deferred copies it descends from) that
    #: began and never finished before this one.
    unfinished: int = 0
    #: Seconds the message waited on the circuit breaker; its retry window does not count them.
    waited_s: float = 0.0

    def stamp(self) -> int | None:
        """The event's stamp, or None when the message carries none; InvalidPayload names a bad one."""
        if self.occurred_at is None:
            return None
        try:
            return parse_stamp(self.occurred_at)
        except StampError as exc:
            raise InvalidPayload(f"occurred_at {exc}", messages={"occurred_at": [str(exc)]}) from None

    def log_fields(self, **more: Any) -> dict[str, Any]:
        """The attempt's ``key=value`` log context, with the e-mail masked."""
        email = self.payload.get("email") if isinstance(self.payload, Mapping) else None
        return {
            "task": self.operation.task_name,
            "task_id": self.task_id,
            "attempt": self.number,
            "email": mask_email(email) if isinstance(email, str) else None,
            "team": self.team,
            **more,
        }


def check_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, str | None]:
    """The task's ``payload`` and ``team``, once every argument is known and well formed.

    ``payload`` is required; ``team`` is a team name; ``occurred_at`` an ISO 8601 time
    with an offset (:func:`~sendx_worker.stamps.parse_stamp`). Anything else is an
    InvalidPayload naming the argument. (The payload itself is the schema's business.)
    """
    if args:
        raise InvalidPayload(
            "the task takes keyword arguments only (payload, team, occurred_at)",
            messages={"args": [f"{len(args)} positional argument(s) given."]},
        )
    unknown = sorted(str(name) for name in set(kwargs) - ALLOWED_KWARGS)
    if unknown:
        raise InvalidPayload(
            f"unknown keyword argument(s): {', '.join(unknown)}", messages={k: ["Unknown argument."] for k in unknown}
        )
    if "payload" not in kwargs:
        raise InvalidPayload("missing keyword argument: payload", messages={"payload": ["Missing argument."]})
    team = kwargs.get("team")
    problem = None if team is None else team_problem(team)
    if problem is not None:
        raise InvalidPayload(f"team: {problem}", messages={"team": [problem]})
    occurred_at = kwargs.get("occurred_at")
    if occurred_at is not None:
        try:
            parse_stamp(occurred_at)
        except StampError as exc:
            raise InvalidPayload(f"occurred_at: {exc}", messages={"occurred_at": [str(exc)]}) from None
    return kwargs["payload"], team


def validated(operation: Operation, payload: Any, flavor: Flavor) -> dict[str, Any]:
    try:
        return operation.load(payload, flavor)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"payload": exc.messages}
        raise InvalidPayload(f"invalid payload: {describe_errors(messages)}", messages=messages) from None


def client_for_team(task: SendxTask, team: str | None) -> Any:
    try:
        return task.client_for(team)
    except ConfigurationError as exc:
        raise InvalidPayload(str(exc), messages={"team": [str(exc)]}) from None


def first_attempt_at(request: Any) -> float:
    value = header(request, FIRST_ATTEMPT_HEADER)
    try:
        return float(value) if value is not None else time.time()
    except (TypeError, ValueError):
        return time.time()
