"""A Celery consumer that checks every message first, and dead-letters what Celery would drop.

Celery acknowledges a message it cannot decode (pickle, broken JSON) and rejects
one without a task name or with an unknown task; either way the message is gone
with nothing but a log line. Worse, some shapes of message crash Celery's own
consumer and kill the worker (see :mod:`.guard`). Here every message is checked by
:func:`~.guard.refusal_of` before Celery reads it, and a refused one becomes an
``invalid_payload`` dead letter holding the raw body (as bounded text, never
unpickled) and the reason; only then is it acknowledged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from celery.worker.consumer import Consumer

from ..deadletter import DeadLetterRecord, iso_utc, new_record_id, publish_record
from ..jsonsafe import as_text, plain_json
from ..limits import MAX_DEPTH, MAX_HEADER_TEXT, MAX_RAW_BODY_TEXT
from ..logs import context
from ..masking import mask_text
from ..observe import observer_of
from .broker_setup import consumer_steps
from .guard import Refusal, refusal_of

__all__ = ["SendxConsumer"]

logger = logging.getLogger(__name__)

# A clock skew allowance on top of SENDX_RETRY_CAP_S for a retry's eta.
ETA_SKEW_S = 60.0


class SendxConsumer(Consumer):
    """Celery's consumer, with every message checked and a dead letter instead of a crash or a drop."""

    _max_eta_ahead_s: float | None = None

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        """Celery's handler of task messages, behind :func:`~.guard.refusal_of`."""
        celery_handler = super().create_task_handler(*args, **kwargs)
        connection_trouble = tuple(self.connection_errors) + tuple(self.channel_errors)

        def on_task_received(message: Any) -> Any:
            try:
                refusal = refusal_of(message, now=time.time(), max_eta_ahead_s=self.max_eta_ahead_s)
            except Exception as exc:  # the check itself must never take the worker down
                logger.error("could not check a message", exc_info=True)
                refusal = Refusal(f"the message could not be checked ({type(exc).__name__})")
            if refusal is not None:
                return self._dead_letter(message, refusal.body, refusal.error)
            try:
                return celery_handler(message)
            except connection_trouble:
                raise  # Celery reconnects; the unacknowledged message comes back
            except Exception as exc:
                # A shape the guard let through and Celery could not take: a bug to fix,
                # but the worker carries on and the message is kept, as a dead letter.
                logger.error("Celery could not take a message", exc_info=True)
                if message.acknowledged:
                    return None
                return self._dead_letter(message, None, f"Celery could not take the message: {type(exc).__name__}")

        return on_task_received

    @property
    def max_eta_ahead_s(self) -> float:
        """How far ahead a message's eta may be: the longest retry delay, plus clock skew."""
        if self._max_eta_ahead_s is None:
            from ..celery_app import settings_of

            self._max_eta_ahead_s = settings_of(self.app).retry_cap_s + ETA_SKEW_S
        return self._max_eta_ahead_s

    class Blueprint(Consumer.Blueprint):
        # Celery's delayed-delivery set-up idles ~17 s with a cluster node down (.broker_setup).
        default_steps = consumer_steps(Consumer.Blueprint.default_steps)

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        self._dead_letter(message, None, f"cannot decode the message: {exc}")

    def on_unknown_message(self, body: Any, message: Any) -> None:
        self._dead_letter(message, body, "not a Celery task message (no task name)")

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        name = _headers(message).get("task")
        self._dead_letter(
            message,
            body,
            f"unknown task {as_text(name, MAX_HEADER_TEXT)!r}: "
            "this worker runs sendx.identify_contact and sendx.track_tags",
        )

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        self._dead_letter(message, body, f"invalid task message: {exc}")

    def _dead_letter(self, message: Any, body: Any, error: str) -> None:
        headers = _headers(message)
        task_id = headers.get("id")
        record = DeadLetterRecord(
            id=new_record_id(),
            task=as_text(headers.get("task") or "", MAX_HEADER_TEXT),
            payload=plain_json(_payload_of(body), MAX_DEPTH),
            reason="invalid_payload",
            status=None,
            error=mask_text(as_text(error, 2000)),
            attempts=1,
            first_attempt_at=None,
            dead_lettered_at=iso_utc(),
            task_id=as_text(task_id, MAX_HEADER_TEXT) if task_id else None,
            evidence={
                "content_type": as_text(message.content_type, MAX_HEADER_TEXT) if message.content_type else None,
                "content_encoding": (
                    as_text(message.content_encoding, MAX_HEADER_TEXT) if message.content_encoding else None
                ),
                "raw_body": _raw_text(message.body),
                "raw_body_bytes": len(message.body) if isinstance(message.body, bytes | str) else None,
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


def _headers(message: Any) -> Mapping[str, Any]:
    headers = message.headers
    return headers if isinstance(headers, Mapping) else {}


def _payload_of(body: Any) -> Any:
    """The ``payload`` kwarg of a decoded task body, else the body itself if JSON-like."""
    if isinstance(body, list | tuple) and len(body) >= 2 and isinstance(body[1], Mapping):
        return body[1].get("payload")
    if body is None or isinstance(body, str | int | float | bool | dict | list):
        return body
    return None


def _raw_text(raw: Any) -> str:
    """The raw body as text a dead letter can hold: bounded, UTF-8-safe, e-mails masked."""
    # Masked before it is cut, so that no address is cut into something the masking misses.
    return as_text(mask_text(as_text(raw, 2 * MAX_RAW_BODY_TEXT)), MAX_RAW_BODY_TEXT)
