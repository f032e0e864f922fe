"""The dead-letter record: what died, why, and the evidence.

Records travel as JSON messages on ``sendx.dead_letter``. A message the broker
dead-lettered on its own (RabbitMQ's delivery limit) is a raw Celery task message
instead; :func:`record_from_message` reads both, so operators see one format.

Reading never fails: whatever a message on the queue holds (a record of an older or
newer version, another program's message, a body nested 600 levels deep, bytes, NaN),
it becomes a record of plain, bounded JSON, so that ``dead list``, ``show``, ``replay``
and ``purge`` work with every one of them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

from ..jsonsafe import as_text, plain_json
from ..limits import MAX_DEPTH, MAX_HEADER_TEXT, MAX_RAW_BODY_TEXT
from ..topology import BROKER_DELIVERY_LIMIT

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
        """The record as JSON-safe data (a shallow copy: nothing here recurses into the payload)."""
        return {item.name: getattr(self, item.name) for item in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeadLetterRecord:
        """Read a record written by :meth:`to_dict`; any value of the wrong kind reads as its default.

        Unknown keys (from newer versions) are ignored.
        """
        return cls(
            id=_text(data.get("id")) or _stable_id(data),
            task=_text(data.get("task")) or "",
            payload=plain_json(data.get("payload"), MAX_DEPTH),
            reason=_reason(data.get("reason", "poison")),
            status=_whole(data.get("status")),
            error=_text(data.get("error"), _MAX_ERROR) or "",
            attempts=_whole(data.get("attempts")) or 0,
            first_attempt_at=_text(data.get("first_attempt_at")),
            dead_lettered_at=_text(data.get("dead_lettered_at")) or "",
            task_id=_text(data.get("task_id")),
            team=_text(data.get("team")),
            evidence=_evidence(data.get("evidence")),
            version=_whole(data.get("version")) or RECORD_VERSION,
            occurred_at=_text(data.get("occurred_at")),
        )


# An error text longer than this is cut (a validation error can quote a whole field name).
_MAX_ERROR = 20_000


def _text(value: Any, limit: int = MAX_HEADER_TEXT) -> str | None:
    return as_text(value, limit) if isinstance(value, str) else None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _evidence(value: Any) -> dict[str, Any]:
    found = plain_json(value, MAX_DEPTH) if isinstance(value, Mapping) else {}
    return found if isinstance(found, dict) else {}


def _moment(value: Any) -> str:
    """When the broker dead-lettered a message (x-death's time), as ISO 8601 UTC; "" if it does not say."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return iso_utc(aware.timestamp())
    return ""


# Headers a broker adds or changes each time a message is handed back (RabbitMQ's quorum
# queues count every return, a look at the dead letters included): not part of an id.
_VOLATILE_HEADERS = frozenset({"x-delivery-count", "redelivered"})


def _lasting(headers: Mapping[str, Any]) -> Any:
    return plain_json({k: v for k, v in headers.items() if k not in _VOLATILE_HEADERS}, 4)


def _stable_id(data: Any) -> str:
    """An id for a record that has none: the same every time the record is read."""
    digest = hashlib.sha256(json.dumps(plain_json(data, MAX_DEPTH), sort_keys=True).encode()).hexdigest()
    return digest[:32]


def _reason(value: Any) -> Reason:
    for known in REASONS:
        if value == known:
            return known
    return "poison"


def record_from_message(body: Any, headers: Any, raw: Any = None) -> DeadLetterRecord:
    """The record a dead-letter queue message holds, or stands for; ``raw``: its undecoded body."""
    found: Mapping[str, Any] = headers if isinstance(headers, Mapping) else {}
    if found.get(RECORD_HEADER) and isinstance(body, Mapping):
        return DeadLetterRecord.from_dict(body)
    if found.get("x-death") or found.get("task"):
        return _record_from_task_message(body, found)
    return _record_from_other(body, found, raw)


def _record_from_task_message(body: Any, headers: Mapping[str, Any]) -> DeadLetterRecord:
    """A Celery task message the broker dead-lettered itself: it killed too many workers."""
    kwargs: Mapping[str, Any] = {}
    if isinstance(body, list | tuple) and len(body) >= 2 and isinstance(body[1], Mapping):
        kwargs = body[1]
    deaths = headers.get("x-death")
    deaths = deaths if isinstance(deaths, list) else []
    first_death = deaths[0] if deaths and isinstance(deaths[0], Mapping) else {}
    task_id = _text(headers.get("id"))
    # Not the message's x-delivery-count: on the (quorum) dead-letter queue that counts the
    # looks at the dead letters. A message the broker gave up on had reached its limit.
    count = BROKER_DELIVERY_LIMIT if first_death.get("reason") == "delivery_limit" else 0
    return DeadLetterRecord(
        id=task_id or _stable_id({"body": plain_json(body, MAX_DEPTH), "headers": _lasting(headers)}),
        task=_text(headers.get("task")) or "",
        payload=plain_json(kwargs.get("payload"), MAX_DEPTH),
        team=_text(kwargs.get("team")),
        occurred_at=_text(kwargs.get("occurred_at")),
        reason="poison",
        status=None,
        error="the broker dead-lettered the message: "
        + (_text(first_death.get("reason")) or "delivery limit exceeded"),
        attempts=count + 1,
        first_attempt_at=None,
        dead_lettered_at=_moment(first_death.get("time")),
        task_id=task_id,
        evidence={"x-death": plain_json(deaths, 6)},
    )


def _record_from_other(body: Any, headers: Mapping[str, Any], raw: Any) -> DeadLetterRecord:
    """A message another program put on ``sendx.dead_letter``: shown with its raw body, never lost."""
    text = as_text(raw if raw is not None else json.dumps(plain_json(body, MAX_DEPTH)), MAX_RAW_BODY_TEXT)
    return DeadLetterRecord(
        id=_stable_id({"body": text, "headers": _lasting(headers)}),
        task="",
        payload=None,
        reason="invalid_payload",
        status=None,
        error="not a sendx-worker dead-letter record (another program published it to sendx.dead_letter)",
        attempts=0,
        first_attempt_at=None,
        dead_lettered_at="",
        evidence={"raw_body": text, "headers": _lasting(headers)},
    )
