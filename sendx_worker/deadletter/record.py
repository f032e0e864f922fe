"""The dead-letter record: what died, why, and the evidence.

Records travel as JSON messages on ``sendx.dead_letter``. A message the broker
dead-lettered on its own (RabbitMQ's delivery limit) is a raw Celery task message
instead; :func:`record_from_message` reads both, so operators see one format.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["REASONS", "DeadLetterRecord", "Reason", "iso_utc", "new_record_id", "record_from_message"]

Reason = Literal["invalid_payload", "rejected", "retries_exhausted", "ambiguous_increment", "poison"]
REASONS: tuple[Reason, ...] = ("invalid_payload", "rejected", "retries_exhausted", "ambiguous_increment", "poison")

RECORD_HEADER = "x-sendx-dead-letter"
RECORD_VERSION = 1


def iso_utc(timestamp: float | None = None) -> str:
    """ISO 8601 UTC for a POSIX timestamp (default: now)."""
    moment = datetime.now(UTC) if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_record_id() -> str:
    """A fresh dead-letter id."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class DeadLetterRecord:
    """One dead letter, as ``dead list --json`` prints it."""

    id: str
    task: str
    payload: Any
    reason: Reason
    status: int | None
    error: str
    attempts: int
    first_attempt_at: str | None
    dead_lettered_at: str
    task_id: str | None = None
    team: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    version: int = RECORD_VERSION
    #: When the event happened (its ``occurred_at`` stamp): a replay keeps the contact's order.
    occurred_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-safe data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeadLetterRecord:
        """Read a record written by :meth:`to_dict` (unknown keys from newer versions are ignored)."""
        reason = str(data.get("reason", "poison"))
        return cls(
            id=str(data["id"]),
            task=str(data.get("task", "")),
            payload=data.get("payload"),
            reason=_reason(reason),
            status=data.get("status") if isinstance(data.get("status"), int) else None,
            error=str(data.get("error", "")),
            attempts=int(data.get("attempts", 0) or 0),
            first_attempt_at=data.get("first_attempt_at"),
            dead_lettered_at=str(data.get("dead_lettered_at", "")),
            task_id=data.get("task_id"),
            team=data.get("team"),
            evidence=dict(data.get("evidence") or {}),
            version=int(data.get("version", RECORD_VERSION)),
            occurred_at=data.get("occurred_at") if isinstance(data.get("occurred_at"), str) else None,
        )


def _reason(value: str) -> Reason:
    for known in REASONS:
        if value == known:
            return known
    return "poison"


def record_from_message(body: Any, headers: Mapping[str, Any]) -> DeadLetterRecord:
    """The record a dead-letter queue message holds, or stands for."""
    if headers.get(RECORD_HEADER) and isinstance(body, Mapping):
        return DeadLetterRecord.from_dict(body)
    return _record_from_task_message(body, headers)


def _record_from_task_message(body: Any, headers: Mapping[str, Any]) -> DeadLetterRecord:
    """A Celery task message the broker dead-lettered itself: it killed too many workers."""
    kwargs: Mapping[str, Any] = {}
    if isinstance(body, list | tuple) and len(body) >= 2 and isinstance(body[1], Mapping):
        kwargs = body[1]
    deaths = headers.get("x-death") or []
    first_death = deaths[0] if deaths and isinstance(deaths[0], Mapping) else {}
    task_id = headers.get("id")
    return DeadLetterRecord(
        id=str(task_id or new_record_id()),
        task=str(headers.get("task", "")),
        payload=kwargs.get("payload"),
        team=kwargs.get("team"),
        occurred_at=kwargs.get("occurred_at") if isinstance(kwargs.get("occurred_at"), str) else None,
        reason="poison",
        status=None,
        error=f"the broker dead-lettered the message: {first_death.get('reason', 'delivery limit exceeded')}",
        attempts=int(headers.get("x-delivery-count", 0) or 0) + 1,
        first_attempt_at=None,
        dead_lettered_at=iso_utc(),
        task_id=str(task_id) if task_id else None,
        evidence={"x-death": _json_safe(deaths)},
    )


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
