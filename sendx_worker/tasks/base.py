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
from ..errors import StoreUnavailable
from ..flow.gate import FlowGate
from ..masking import masked_repr
from ..observe import Observer, observer_of
from ..ordering import OrderingGate
from ..ordering.retention import LEASE_MARGIN_S, keep_seconds, lease_seconds
from ..retry import RetryPolicy
from ..settings import Settings
from ..state import StateStore, open_store
from ..worker.deliveries import DeliveryCounter, FileDeliveryCounter, RedisDeliveryCounter
from ..worker.signals import worker_concurrency

__all__ = ["SendxTask"]


class _Unmade:
    """The delivery counter before it is made (None is a made counter: RabbitMQ counts itself)."""


_UNMADE = _Unmade()

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
    # What the three below were made from, once per task instance (every task of every
    # thread reads them: no lock, no lookup in Celery's configuration after the first).
    _settings: Settings | None = None
    _policy: RetryPolicy | None = None
    _counter: DeliveryCounter | _Unmade | None = _UNMADE
    _gate: OrderingGate | None = None

    @property
    def settings(self) -> Settings:
        """The worker's settings (those the Celery app was configured from)."""
        settings = self._settings
        if settings is None:
            settings = self._settings = settings_of(self.app)
        return settings

    @property
    def policy(self) -> RetryPolicy:
        """The retry policy built from the settings."""
        policy = self._policy
        if policy is None:
            s = self.settings
            policy = self._policy = RetryPolicy(base_s=s.retry_base_s, cap_s=s.retry_cap_s, window_s=s.retry_window_s)
        return policy

    def client_for(self, team: str | None) -> SendxClient:
        """The client for ``team``, made once per process (its sessions are per thread)."""
        clients = self._clients
        found = clients.get(team) if clients is not None else None
        if found is not None:
            return found
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
        counter = self._counter
        if isinstance(counter, _Unmade):
            with self._lock:
                counter = self._counter
                if isinstance(counter, _Unmade):
                    counter = self._counter = _make_counter(self)
        return counter

    def ordering_gate(self) -> OrderingGate:
        """This process's gate onto the state store, opened on first use.

        Raises StoreUnavailable while the store cannot be reached (opening is tried
        again by the next message), ConfigurationError without a store.
        """
        gate = self._gate
        if gate is not None:
            return gate
        with self._lock:
            if self._gate is None:
                settings = self.settings
                store = open_store(settings.require_state_url())
                self._gate = OrderingGate(
                    store,
                    lease_s=lease_seconds(settings),
                    keep_s=keep_seconds(settings),
                    # A move in doubt holds its address's older events until its retries are over.
                    doubt_s=settings.retry_window_s + LEASE_MARGIN_S,
                    on_wait=lambda seconds: self.observer.lease_waited(seconds),
                )
            return self._gate

    def flow_gate(self) -> FlowGate | None:
        """This process's flow control toward SendX (breaker, adaptive limit); None with SENDX_FLOW_CONTROL=off.

        One per app, so both tasks share each team's slots and failure counts.
        """
        flow: FlowGate | _Unmade | None = getattr(self.app, "sendx_flow", _UNMADE)
        if not isinstance(flow, _Unmade):
            return flow
        with self._lock:
            flow = getattr(self.app, "sendx_flow", _UNMADE)
            if isinstance(flow, _Unmade):
                flow = _make_flow_gate(self)
                self.app.sendx_flow = flow
            return flow

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
                kwargsrepr=masked_repr(kwargs),
            )
        except Reject as failed:
            raise Reject(failed.reason, requeue=True) from failed


def _make_flow_gate(task: SendxTask) -> FlowGate | None:
    settings = task.settings
    if not settings.flow.enabled:
        return None
    store: StateStore | None = None
    url = settings.effective_state_url
    if url is not None:
        try:
            store = open_store(url)
        except StoreUnavailable:
            store = None  # the gate says a per-process breaker stands in
    return FlowGate(
        store, settings.flow, timeout_s=settings.timeout_s, pool_size=task._pool_size(), observer=task.observer
    )


def _make_counter(task: SendxTask) -> DeliveryCounter | None:
    settings = task.settings
    url = settings.effective_broker_url
    if url.startswith(("redis:", "rediss:")):
        import redis

        # Bounded waits, as the state store's: a hung Redis requeues the message.
        return RedisDeliveryCounter(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3))
    if settings.uses_embedded_broker:
        return FileDeliveryCounter(settings.data_dir / "deliveries")
    return None


def header(request: Any, name: str) -> Any:
    """A message header as Celery exposes it on the task request (or None)."""
    headers = getattr(request, "headers", None) or {}
    if name in headers:
        return headers[name]
    return getattr(request, name.replace("-", "_"), None) if "-" not in name else None
