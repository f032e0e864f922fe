"""Enqueue for sendx-worker from a program that does not install it (docs/recipes/other-languages.md).

Two ways, neither importing ``sendx_worker``; both need a worker to have created the
topology (the exchange ``sendx`` and the quorum queue ``sendx``) and declare nothing:

- :func:`enqueue_with_celery`: plain Celery, ``send_task`` by name;
- :func:`publish_raw`: the bare Celery protocol 2 message, published with py-amqp,
  which is what a producer in another language sends with its AMQP client.

``python examples/foreign_producer.py amqp://guest:guest@localhost:5672// ann@example.com``
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import amqp
from celery import Celery

TASK = "sendx.identify_contact"
EXCHANGE = "sendx"
ROUTING_KEY = "sendx"


def masked(kwargs: dict[str, Any]) -> str:
    """What logs and Flower show instead of the arguments: no plain e-mail address."""
    payload = dict(kwargs["payload"])
    local, _, domain = str(payload.get("email", "")).partition("@")
    payload["email"] = f"{local[:1]}***@{domain}"
    return repr({**kwargs, "payload": payload})


def enqueue_with_celery(broker_url: str, payload: dict[str, Any], team: str | None = None) -> str:
    """Enqueue an identify with plain Celery and JSON; return the task id."""
    kwargs: dict[str, Any] = {"payload": payload, **({"team": team} if team else {})}
    # When the event happened (ISO 8601 with an offset): each contact's events are applied in this order.
    kwargs["occurred_at"] = datetime.now(UTC).isoformat()
    app = Celery("foreign-producer", broker=broker_url, set_as_current=False)
    app.conf.task_serializer = "json"
    try:
        result = app.send_task(
            TASK, kwargs=kwargs, exchange=EXCHANGE, routing_key=ROUTING_KEY, argsrepr="()", kwargsrepr=masked(kwargs)
        )
    finally:
        app.close()
    return str(result.id)


def raw_message(
    payload: dict[str, Any], team: str | None = None, task_id: str | None = None, occurred_at: str | None = None
) -> dict[str, Any]:
    """The complete message: AMQP properties, headers and the JSON body (Celery protocol 2)."""
    task_id = task_id or str(uuid.uuid4())
    kwargs: dict[str, Any] = {"payload": payload, **({"team": team} if team else {})}
    if occurred_at is not None:
        kwargs["occurred_at"] = occurred_at
    return {
        "exchange": EXCHANGE,
        "routing_key": ROUTING_KEY,
        "properties": {
            "content_type": "application/json",
            "content_encoding": "utf-8",
            "delivery_mode": 2,
            "correlation_id": task_id,
        },
        "headers": {
            "lang": "py",
            "task": TASK,
            "id": task_id,
            "root_id": task_id,
            "parent_id": None,
            "group": None,
            "retries": 0,
            "eta": None,
            "expires": None,
            "timelimit": [None, None],
            "shadow": None,
            "argsrepr": "()",
            "kwargsrepr": masked(kwargs),
            "origin": "foreign-producer",
            "ignore_result": True,
        },
        "body": [[], kwargs, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}],
    }


def publish_raw(broker_url: str, message: dict[str, Any]) -> None:
    """Publish ``message`` (from :func:`raw_message`) with py-amqp alone, waiting for the broker's confirm."""
    url = urlsplit(broker_url)
    vhost = unquote(url.path[1:]) if len(url.path) > 1 else "/"
    connection = amqp.Connection(
        host=f"{url.hostname or 'localhost'}:{url.port or 5672}",
        userid=unquote(url.username or "guest"),
        password=unquote(url.password or "guest"),
        virtual_host=vhost,
        confirm_publish=True,
    )
    connection.connect()
    try:
        channel = connection.channel()
        channel.basic_publish(
            amqp.Message(
                json.dumps(message["body"]).encode(),
                application_headers=message["headers"],
                **message["properties"],
            ),
            exchange=message["exchange"],
            routing_key=message["routing_key"],
        )
    finally:
        connection.close()


if __name__ == "__main__":
    broker, email = sys.argv[1], sys.argv[2]
    publish_raw(broker, raw_message({"email": email, "tags": ["Imported"]}))
    print(enqueue_with_celery(broker, {"email": email, "firstName": "Imported"}))
