"""Celery configuration derived from :class:`~sendx_worker.settings.Settings`.

Where Celery's defaults are weak for a job that must never lose a contact, they
are overridden here, each with its reason.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from .client.sendx import CONNECT_TIMEOUT_CAP_S
from .settings import Settings
from .topology import WORK_EXCHANGE, WORK_QUEUE, WORK_ROUTING_KEY, work_queue

__all__ = [
    "WORKER_CONCURRENCY",
    "WORKER_POOL",
    "celery_config",
    "embedded_broker_folder",
    "redis_visibility_timeout_s",
]

# The worker's defaults for an I/O-bound job: many calls in flight per process,
# little CPU per task. Threads, not prefork (two slots on two cores) nor gevent
# (monkey-patching, and a heartbeat trap on RabbitMQ); figures in docs/BENCHMARKS.md.
# Celery's ``threads`` pool on a plain queue (sendx_worker.worker.threads): the app's
# ``worker_pool``, so it is what runs when no ``-P`` is given, `celery worker` included.
WORKER_POOL = "sendx_worker.worker.threads:ThreadPool"
WORKER_CONCURRENCY = 64


def redis_visibility_timeout_s(settings: Settings) -> float:
    """How long Redis lets a worker hold an unacknowledged message before redelivering it.

    A retry waits in the worker that holds it (Redis has no delayed delivery), so the
    visibility timeout must outlast the longest retry delay plus the time to run the
    call; otherwise Redis hands the waiting message to a second worker and the call
    runs twice. It is also how long a killed worker's messages take to come back, so
    it is kept no longer than that: the longest delay, plus a call (connect and read)
    that may be queued behind one other call in its slot (prefetch is one per slot),
    plus a margin for clock skew and scheduling.
    """
    return settings.retry_cap_s + 2 * (settings.timeout_s + CONNECT_TIMEOUT_CAP_S) + 10.0


def embedded_broker_folder(settings: Settings) -> Path:
    """Where the embedded broker keeps its message files."""
    return (settings.data_dir / "broker").resolve()


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery settings for ``settings``' broker and retry policy."""
    transport_options: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    broker_url = settings.effective_broker_url
    if settings.uses_embedded_broker:
        folder = str(embedded_broker_folder(settings))
        transport_options = {
            "data_folder_in": folder,
            "data_folder_out": folder,
            "control_folder": folder,
            # An idle consumer looks for new files ten times a second (kombu's default
            # is once a second, which slows every hand-over and a warm shutdown).
            "polling_interval": 0.1,
        }
        extra["broker_transport"] = "sendx_worker.embedded:Transport"
    elif broker_url.startswith(("redis:", "rediss:")):
        transport_options = {
            "visibility_timeout": redis_visibility_timeout_s(settings),
            # kombu sweeps for messages abandoned by a dead worker only every ~100 s
            # by default (10 s x throttle 10); one cheap sorted-set scan every 5 s
            # brings them back soon after their visibility timeout.
            "unacked_restore_interval": 5,
            "unacked_restore_throttle": 1,
            # One list per queue (kombu makes four, for priorities we never set), so that
            # a worker takes each message with one atomic BLMOVE (reliable_redis).
            "priority_steps": [0],
        }
        # kombu's Redis transport can lose the message it is taking when the worker is
        # killed or the connection cut at that moment; this one cannot (reliable_redis).
        extra["broker_transport"] = "sendx_worker.reliable_redis:Transport"
        if broker_url.startswith("rediss:"):
            # kombu turns TLS on from the URL's scheme only for its own transport; the
            # server's certificate is checked against the system's CAs (kombu's default
            # for a bare rediss:// is not to check it at all).
            extra["broker_use_ssl"] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    elif broker_url.startswith(("amqp:", "amqps:", "pyamqp:")):
        # Wait for RabbitMQ's confirmation of every publish: a retry or a dead letter
        # is only acknowledged once its replacement is safely on the broker.
        transport_options = {"confirm_publish": True}
        if not broker_url.startswith("amqps:"):
            # py-amqp's transport, reading the socket in chunks (buffered_amqp): fewer
            # system calls and GIL hand-overs per message in the consumer's thread.
            # (amqps:// keeps kombu's, which turns TLS on from the scheme.)
            extra["broker_transport"] = "sendx_worker.buffered_amqp:Transport"

    return {
        "broker_url": broker_url,
        # Celery lets CELERY_BROKER_URL in the environment override broker_url; pinning
        # the read and write URLs makes an app built from explicit settings use them.
        "broker_read_url": broker_url,
        "broker_write_url": broker_url,
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        # JSON only: a pickle message is a remote code execution waiting to happen.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "event_serializer": "json",
        "task_ignore_result": True,
        "result_backend": None,
        # At least once: acknowledge after the task has run, and put the message back
        # if the worker process dies under it (Celery acknowledges before running by
        # default, which loses the message on a crash).
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # One message per execution slot: a killed worker holds few unacknowledged
        # messages, and they go back to the queue for another worker.
        "worker_prefetch_multiplier": 1,
        "worker_pool": WORKER_POOL,
        "worker_concurrency": WORKER_CONCURRENCY,
        "task_default_queue": WORK_QUEUE,
        "task_default_exchange": WORK_EXCHANGE.name,
        "task_default_exchange_type": WORK_EXCHANGE.type,
        "task_default_routing_key": WORK_ROUTING_KEY,
        "task_queues": (work_queue(),),
        "task_routes": {"sendx.*": {"queue": WORK_QUEUE}},
        "task_create_missing_queues": False,
        # Task events (for Flower and `celery events`) are off unless SENDX_TASK_EVENTS=1.
        # Measured (docs/BENCHMARKS.md): with RabbitMQ heartbeats on, Celery 5.7's
        # threads pool stalls when a pool thread publishes events on the connection the
        # main loop reads; and events cost 0.3 ms of CPU per task and a second confirmed
        # publish per enqueue. Switched on, they come with broker heartbeats off (dead
        # connections are then found by TCP keepalive, which py-amqp enables).
        "worker_send_task_events": settings.task_events,
        "task_send_sent_event": settings.task_events,
        **({"broker_heartbeat": 0} if settings.task_events else {}),
        "worker_hijack_root_logger": False,
        "worker_consumer": "sendx_worker.worker.consumer:SendxConsumer",
        "broker_connection_max_retries": None,
        **extra,
    }
