"""A peer: the same job as a Dramatiq actor, as a user who picked Dramatiq would write it.

One ``requests.Session`` per worker thread (keep-alive, as sendx-worker's client keeps
one per thread), Dramatiq's default middleware, its RabbitMQ (pika) or Redis broker.
Run as::

    dramatiq bench.dramatiq_app --processes 1 --threads 64 --queues sendx-dramatiq

reading ``CELERY_BROKER_URL`` (an ``amqp://`` or ``redis://`` URL), ``SENDX_BASE_URL``,
``SENDX_API_KEY`` and ``SENDX_TEAM_ID``, as the other consumers in the benchmark do.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import dramatiq
import requests
from dramatiq.broker import Broker

__all__ = ["ACTOR", "QUEUE", "declare", "make_broker", "message_for"]

QUEUE = "sendx-dramatiq"
ACTOR = "identify_contact"
_local = threading.local()


def make_broker(url: str) -> Broker:
    """Dramatiq's own broker for ``url``: RabbitmqBroker for amqp://, RedisBroker for redis://."""
    if url.startswith("amqp"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    if url.startswith("redis"):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)
    raise ValueError(f"Dramatiq has no broker for {url.split(':', 1)[0]!r}")


def declare(broker: Broker) -> None:
    """Declare the actor's queue on the server now (RabbitMQ declares lazily otherwise)."""
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    if isinstance(broker, RabbitmqBroker):
        broker.declare_queue(QUEUE, ensure=True)
    else:
        broker.declare_queue(QUEUE)


def message_for(payload: dict[str, Any]) -> dramatiq.Message[Any]:
    """The message the actor below receives for ``payload`` (built without the actor, for filling)."""
    return dramatiq.Message(queue_name=QUEUE, actor_name=ACTOR, args=(payload,), kwargs={}, options={})


def _session() -> requests.Session:
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


_url = os.environ.get("CELERY_BROKER_URL")
if _url:  # the worker; the benchmark process imports this module only for QUEUE and message_for
    dramatiq.set_broker(make_broker(_url))
    _endpoint = f"{os.environ['SENDX_BASE_URL']}/contact/identify"
    _params = {"team_id": os.environ["SENDX_TEAM_ID"]}
    _headers = {"api_key": os.environ["SENDX_API_KEY"]}

    @dramatiq.actor(actor_name=ACTOR, queue_name=QUEUE, max_retries=0)
    def identify_contact(payload: dict[str, Any]) -> None:
        """POST the identify body with this thread's session."""
        response = _session().post(_endpoint, params=_params, headers=_headers, json=payload, timeout=10)
        response.raise_for_status()
