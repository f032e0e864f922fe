"""How deep the queues are, on each broker, without taking a message.

- **RabbitMQ**: a passive ``queue.declare`` gives the messages *ready* and the
  consumers of a queue. Messages delivered and not yet acknowledged ("in flight")
  are only counted by the management plugin's HTTP API, which is not assumed: the
  console shows the workers' own report of what they hold instead
  (:mod:`.workers`). Retries wait in Celery's delayed-delivery queues
  ``celery_delayed_0``..``27``, shared by every Celery app of the vhost.
- **Redis**: ``LLEN`` of the queue's list; what workers hold (running, prefetched,
  and retries waiting for their time, Redis having no delayed delivery) is in
  kombu's ``unacked`` hash, and for an instant on an in-flight list
  (:mod:`sendx_worker.reliable_redis`).
- **Embedded broker**: message files in its folder; held ones in
  ``unacked/<pid>/``.

Held messages are split into *in flight* and *retry waiting* by their ``eta``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery import Celery

from ..celery_app import settings_of
from ..celeryconf import embedded_broker_folder
from ..embedded import UNACKED_FOLDER
from ..reliable_redis import INFLIGHT_REGISTRY
from ..topology import DEAD_LETTER_QUEUE, WORK_QUEUE

__all__ = ["DELAYED_QUEUES", "QueueDepths", "broker_kind", "fail_fast", "probe_queues"]

# kombu.transport.native_delayed_delivery: 28 levels, one queue per bit of the delay.
DELAYED_QUEUES = tuple(f"celery_delayed_{level}" for level in range(28))
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class QueueDepths:
    """One look at the queues. None: this broker cannot say."""

    broker: str
    ready: int
    in_flight: int | None
    retry_waiting: int | None
    consumers: int | None
    dead_letters: int
    #: How ``in_flight``/``retry_waiting`` were counted, for the page.
    note: str = ""

    def as_numbers(self) -> dict[str, int]:
        """The counts that exist, by name (for the sampler's history)."""
        found = {"ready": self.ready, "dead_letters": self.dead_letters}
        if self.in_flight is not None:
            found["in_flight"] = self.in_flight
        if self.retry_waiting is not None:
            found["retry_waiting"] = self.retry_waiting
        return found


def broker_kind(app: Celery) -> str:
    """``rabbitmq``, ``redis`` or ``embedded``."""
    settings = settings_of(app)
    if settings.uses_embedded_broker:
        return "embedded"
    if settings.effective_broker_url.startswith(("redis:", "rediss:")):
        return "redis"
    return "rabbitmq"


def probe_queues(app: Celery) -> QueueDepths:
    """The depths of ``sendx``, its retries and ``sendx.dead_letter`` on ``app``'s broker."""
    kind = broker_kind(app)
    if kind == "embedded":
        return _embedded(embedded_broker_folder(settings_of(app)))
    with app.connection_for_write() as connection:
        fail_fast(connection)
        channel = connection.default_channel
        if kind == "redis":
            return _redis(channel)
        return _rabbitmq(connection)


def fail_fast(connection: Any) -> None:
    """Connect now, once: a broker that is down is a page's error at once, not after kombu's retries."""
    connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=CONNECT_TIMEOUT_S)


def _rabbitmq(connection: Any) -> QueueDepths:
    work = _declared(connection, WORK_QUEUE)
    dead = _declared(connection, DEAD_LETTER_QUEUE)
    delayed = 0
    for name in DELAYED_QUEUES:
        found = _declared(connection, name)
        if found is None and name == DELAYED_QUEUES[0]:
            break  # no worker declared the delayed-delivery queues yet
        delayed += found[0] if found else 0
    return QueueDepths(
        broker="rabbitmq",
        ready=work[0] if work else 0,
        in_flight=None,
        retry_waiting=delayed,
        consumers=work[1] if work else 0,
        dead_letters=dead[0] if dead else 0,
        note="in flight: as reported by the workers (AMQP counts only ready messages); "
        "retries: Celery's delayed-delivery queues of the vhost",
    )


def _declared(connection: Any, queue: str) -> tuple[int, int] | None:
    """(ready, consumers) of ``queue``, or None when it does not exist."""
    channel = connection.channel()
    try:
        ok = channel.queue_declare(queue=queue, passive=True)
    except connection.channel_errors:
        return None  # 404: the broker closed this channel
    finally:
        with contextlib.suppress(Exception):
            channel.close()
    return int(ok.message_count), int(ok.consumer_count)


def _redis(channel: Any) -> QueueDepths:
    client = channel.client
    now = datetime.now(UTC)
    in_flight = retry_waiting = 0
    for raw in client.hvals(channel.unacked_key):
        routed = _unacked_entry(raw)
        if routed is None or routed[1] != WORK_QUEUE:
            continue
        if _is_future(routed[0], now):
            retry_waiting += 1
        else:
            in_flight += 1
    for raw_list, raw_source in client.hgetall(INFLIGHT_REGISTRY).items():
        if raw_source.decode() == WORK_QUEUE:
            in_flight += int(client.llen(raw_list))
    return QueueDepths(
        broker="redis",
        ready=int(client.llen(WORK_QUEUE)),
        in_flight=in_flight,
        retry_waiting=retry_waiting,
        consumers=None,
        dead_letters=int(client.llen(DEAD_LETTER_QUEUE)),
        note="in flight and retries: held unacknowledged by workers (kombu's unacked hash)",
    )


def _unacked_entry(raw: bytes) -> tuple[dict[str, Any], str] | None:
    """(message, routing key) of one entry of kombu's unacked hash."""
    try:
        message, _exchange, routing_key = json.loads(raw)
    except (ValueError, TypeError):
        return None
    return (message, str(routing_key)) if isinstance(message, dict) else None


def _is_future(message: dict[str, Any], now: datetime) -> bool:
    eta = (message.get("headers") or {}).get("eta")
    if not isinstance(eta, str):
        return False
    try:
        moment = datetime.fromisoformat(eta)
    except ValueError:
        return False
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) > now


def _embedded(folder: Path) -> QueueDepths:
    now = datetime.now(UTC)
    ready = dead = in_flight = retry_waiting = 0
    for name in _listing(folder):
        queue = name.partition(".")[2]
        ready += queue == f"{WORK_QUEUE}.msg"
        dead += queue == f"{DEAD_LETTER_QUEUE}.msg"
    held_root = folder / UNACKED_FOLDER
    for owner in _listing(held_root):
        for name in _listing(held_root / owner):
            queue = name.partition(".")[2]
            if queue == f"{DEAD_LETTER_QUEUE}.msg":
                dead += 1  # being read by a console or `dead list` right now
            elif queue == f"{WORK_QUEUE}.msg":
                if _is_future(_file_message(held_root / owner / name), now):
                    retry_waiting += 1
                else:
                    in_flight += 1
    return QueueDepths(
        broker="embedded",
        ready=ready,
        in_flight=in_flight,
        retry_waiting=retry_waiting,
        consumers=None,
        dead_letters=dead,
        note=f"message files in {folder}; in flight and retries: files held by workers",
    )


def _listing(folder: Path) -> Iterable[str]:
    try:
        return [name for name in os.listdir(folder) if not name.startswith(".")]
    except OSError:
        return []


def _file_message(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
