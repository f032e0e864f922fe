"""Messages published as another program would, shape unchecked: raw AMQP, kombu, a Redis push, a file.

Used to show that whatever arrives on ``sendx`` ends in one outcome (delivered, or one
``invalid_payload`` dead letter) and never takes the worker down.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import amqp
import redis
from celery import Celery

from sendx_worker.topology import WORK_EXCHANGE, WORK_QUEUE, work_queue

IDENTIFY = "sendx.identify_contact"
TRACK = "sendx.track_tags"
EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


@dataclass(frozen=True)
class RawMessage:
    """A task message as bytes and headers; ``None`` leaves a property out."""

    body: bytes
    headers: Mapping[str, Any] | None = field(default_factory=dict)
    content_type: str | None = "application/json"
    content_encoding: str | None = "utf-8"

    def with_headers(self, **changes: Any) -> RawMessage:
        return replace(self, headers={**(self.headers or {}), **changes})

    def without_header(self, name: str) -> RawMessage:
        return replace(self, headers={k: v for k, v in (self.headers or {}).items() if k != name})


def task_message(
    payload: Any = None,
    *,
    task: str = IDENTIFY,
    body: Any = None,
    kwargs: Mapping[str, Any] | None = None,
    task_id: str | None = None,
    **headers: Any,
) -> RawMessage:
    """A Celery protocol 2 message, well formed unless told otherwise."""
    task_id = task_id or str(uuid.uuid4())
    if body is None:
        body = [[], dict(kwargs) if kwargs is not None else {"payload": payload}, EMBED]
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawMessage(data, {"task": task, "id": task_id, "retries": 0, **headers})


def publish_amqp(url: str, messages: Iterable[RawMessage]) -> None:
    """Publish with py-amqp alone to the exchange ``sendx``, each confirmed by the broker."""
    parts = urlsplit(url)
    connection = amqp.Connection(
        host=f"{parts.hostname}:{parts.port or 5672}",
        userid=unquote(parts.username or "guest"),
        password=unquote(parts.password or "guest"),
        virtual_host=unquote(parts.path[1:]) or "/",
        confirm_publish=True,
    )
    connection.connect()
    try:
        channel = connection.channel()
        for message in messages:
            properties: dict[str, Any] = {"delivery_mode": 2}
            if message.headers is not None:
                properties["application_headers"] = dict(message.headers)
            if message.content_type is not None:
                properties["content_type"] = message.content_type
            if message.content_encoding is not None:
                properties["content_encoding"] = message.content_encoding
            channel.basic_publish(
                amqp.Message(message.body, **properties), exchange=WORK_EXCHANGE.name, routing_key=WORK_QUEUE
            )
    finally:
        connection.close()


def publish_kombu(app: Celery, messages: Iterable[RawMessage]) -> None:
    """Publish through kombu on ``app``'s broker (Redis, the embedded broker), bodies as given."""
    with app.connection_for_write() as connection, connection.Producer() as producer:
        for message in messages:
            producer.publish(
                message.body,
                exchange=WORK_EXCHANGE.name,
                routing_key=WORK_QUEUE,
                declare=[work_queue()],
                headers=dict(message.headers or {}),
                content_type=message.content_type or "application/octet-stream",
                content_encoding=message.content_encoding or "binary",
                delivery_mode=2,
            )


def publish(kind: str, url: str, app: Celery, messages: Iterable[RawMessage]) -> None:
    """Publish raw on any of the three brokers."""
    if kind == "rabbitmq":
        publish_amqp(url, messages)
    else:
        publish_kombu(app, messages)


def push_redis_item(url: str, item: bytes) -> None:
    """Put ``item`` on the ``sendx`` list as it is: what a program writing to Redis directly does."""
    client = redis.Redis.from_url(url)
    try:
        client.lpush(WORK_QUEUE, item)
    finally:
        client.close()


def drop_broker_file(broker_folder: Path, content: bytes) -> None:
    """Put a message file holding ``content`` in the embedded broker's folder, as a foreign writer could."""
    name = f"{round(time.monotonic() * 1000):015d}_{uuid.uuid4()}.{WORK_QUEUE}.msg"
    partial = broker_folder / f".{name}.partial"
    partial.write_bytes(content)
    os.replace(partial, broker_folder / name)
