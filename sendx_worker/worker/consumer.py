"""A Celery consumer that dead-letters the messages Celery itself would drop.

Celery acknowledges a message it cannot decode (pickle, broken JSON) and rejects
one without a task name or with an unknown task; either way the message is gone
with nothing but a log line. Here each becomes an ``invalid_payload`` dead letter
holding the raw body (as text, never unpickled), and only then is acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from celery.worker.consumer import Consumer

from ..deadletter import DeadLetterRecord, iso_utc, new_record_id, publish_record
from ..logs import context
from ..masking import mask_text
from ..observe import observer_of
from .broker_setup import consumer_steps

__all__ = ["SendxConsumer"]

logger = logging.getLogger(__name__)

RAW_BODY_LIMIT = 4000


class SendxConsumer(Consumer):
    """Celery's consumer, with a dead letter instead of a silent drop."""

    class Blueprint(Consumer.Blueprint):
        # Celery's delayed-delivery set-up idles ~17 s with a cluster node down (.broker_setup).
        default_steps = consumer_steps(Consumer.Blueprint.default_steps)

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        self._dead_letter(message, None, f"cannot decode the message: {exc}")

    def on_unknown_message(self, body: Any, message: Any) -> None:
        self._dead_letter(message, body, "not a Celery task message (no task name)")

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        name = (message.headers or {}).get("task")
        self._dead_letter(
            message, body, f"unknown task {name!r}: this worker runs sendx.identify_contact and sendx.track_tags"
        )

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        self._dead_letter(message, body, f"invalid task message: {exc}")

    def _dead_letter(self, message: Any, body: Any, error: str) -> None:
        headers: Mapping[str, Any] = message.headers or {}
        record = DeadLetterRecord(
            id=new_record_id(),
            task=str(headers.get("task") or ""),
            payload=_payload_of(body),
            reason="invalid_payload",
            status=None,
            error=mask_text(error),
            attempts=1,
            first_attempt_at=None,
            dead_lettered_at=iso_utc(),
            task_id=str(headers["id"]) if headers.get("id") else None,
            evidence={
                "content_type": message.content_type,
                "content_encoding": message.content_encoding,
                "raw_body": _raw_text(message.body),
            },
        )
        try:
            with self.app.producer_or_acquire() as producer:
                publish_record(producer, record)
        except Exception:
            # Keep the message rather than lose it; it comes back and is tried again.
            logger.error("could not dead-letter an invalid message; requeued", exc_info=True)
            message.reject_log_error(logger, self.connection_errors, requeue=True)
            return
        observer_of(self.app).dead_lettered("unknown", "invalid_payload")
        logger.warning(
            "dead-lettered",
            extra=context(outcome="dead_lettered", reason="invalid_payload", id=record.id, error=record.error),
        )
        message.ack()


def _payload_of(body: Any) -> Any:
    """The ``payload`` kwarg of a decoded task body, else the body itself if JSON-like."""
    if isinstance(body, list | tuple) and len(body) >= 2 and isinstance(body[1], Mapping):
        return body[1].get("payload")
    if body is None or isinstance(body, str | int | float | bool | dict | list):
        return body
    return None


def _raw_text(raw: Any) -> str:
    text = raw.decode("utf-8", errors="backslashreplace") if isinstance(raw, bytes) else str(raw)
    return mask_text(text[:RAW_BODY_LIMIT])
