"""The Celery task class shared by both tasks: per-process clients and the knobs.

Celery's defaults are beaten here: acknowledge late, requeue when the worker
dies, never give up after three retries (the retry policy decides), JSON only.
"""

from __future__ import annotations

import threading
from typing import Any, NoReturn

from celery import Task
from celery.exceptions import Reject

from ..celery_app import settings_of
from ..client import SendxClient
from ..deadletter import DeadLetterRecord, publish_record
from ..masking import mask_payload
from ..observe import Observer, observer_of
from ..retry import RetryPolicy
from ..settings import Settings
from ..worker.deliveries import DeliveryCounter, FileDeliveryCounter, RedisDeliveryCounter
from ..worker.signals import worker_concurrency

__all__ = ["SendxTask"]

# Requests in flight per worker process; the connection pool of each client is
# sized to it so that no thread waits for a connection (MEASURED.md, trap 3).
DEFAULT_POOL_SIZE = 64


class SendxTask(Task):
    """Base class of ``sendx.identify_contact`` and ``sendx.track_tags``."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    max_retries = None
    ignore_result = True
    serializer = "json"
    # Arguments are checked by the task itself so that a bad message is
    # dead-lettered with its evidence instead of failing inside Celery.
    typing = False

    _lock = threading.Lock()
    _clients: dict[str | None, SendxClient] | None = None
    _counter: DeliveryCounter | None = None

    @property
    def settings(self) -> Settings:
        """The worker's settings (those the Celery app was configured from)."""
        return settings_of(self.app)

    @property
    def policy(self) -> RetryPolicy:
        """The retry policy built from the settings."""
        s = self.settings
        return RetryPolicy(base_s=s.retry_base_s, cap_s=s.retry_cap_s, window_s=s.retry_window_s)

    def client_for(self, team: str | None) -> SendxClient:
        """The client for ``team``, made once per process (its sessions are per thread)."""
        with self._lock:
            if self._clients is None:
                self._clients = {}
            client = self._clients.get(team)
            if client is None:
                client = SendxClient.from_settings(
                    self.settings,
                    team=team,
                    pool_size=self._pool_size(),
                    on_response=lambda op, status, seconds: self.observer.sendx_call(op, status, seconds),
                )
                self._clients[team] = client
            return client

    @property
    def observer(self) -> Observer:
        """Who watches deliveries (metrics), attached to the app."""
        return observer_of(self.app)

    def _pool_size(self) -> int:
        # The worker's real concurrency: `-c` does not change app.conf.worker_concurrency,
        # and under gevent all the greenlets share one session, so its pool must hold a
        # connection for each of them (docs/BENCHMARKS.md, "The pool size under gevent").
        concurrency = worker_concurrency(self.app)
        if concurrency is None:
            configured = getattr(getattr(self.app, "conf", None), "worker_concurrency", None)
            concurrency = configured if isinstance(configured, int) else 0
        return max(concurrency, DEFAULT_POOL_SIZE)

    def delivery_counter(self) -> DeliveryCounter | None:
        """Where deliveries are counted; None on RabbitMQ, which counts them itself."""
        with self._lock:
            if self._counter is None:
                self._counter = _make_counter(self)
            return self._counter

    def publish_dead_letter(self, record: DeadLetterRecord) -> None:
        """Put ``record`` durably on ``sendx.dead_letter``."""
        with self.app.producer_or_acquire() as producer:
            publish_record(producer, record)

    def republish(self, kwargs: dict[str, Any], *, countdown: int, headers: dict[str, Any]) -> NoReturn:
        """Publish this task's message again with ``kwargs`` after ``countdown`` s (a Celery retry); raises ``Retry``.

        Raises ``Reject(requeue=True)`` when it cannot be published: Celery rejects *without*
        requeueing then, which drops the message on Redis; it stays on the queue instead.
        """
        try:
            raise self.retry(
                args=(),
                kwargs=kwargs,
                countdown=countdown,
                max_retries=None,
                headers=headers,
                # What Celery logs and shows in events for the retried task: no plain e-mail.
                argsrepr="()",
                kwargsrepr=repr(mask_payload(kwargs)),
            )
        except Reject as failed:
            raise Reject(failed.reason, requeue=True) from failed


def _make_counter(task: SendxTask) -> DeliveryCounter | None:
    settings = task.settings
    url = settings.effective_broker_url
    if url.startswith(("redis:", "rediss:")):
        import redis

        return RedisDeliveryCounter(redis.Redis.from_url(url))
    if settings.uses_embedded_broker:
        return FileDeliveryCounter(settings.data_dir / "deliveries")
    return None


def header(request: Any, name: str) -> Any:
    """A message header as Celery exposes it on the task request (or None)."""
    headers = getattr(request, "headers", None) or {}
    if name in headers:
        return headers[name]
    return getattr(request, name.replace("-", "_"), None) if "-" not in name else None
