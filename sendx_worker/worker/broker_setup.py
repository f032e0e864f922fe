"""The consumer's RabbitMQ set-up: delayed delivery and the dead-letter queue, on the connection it has.

It replaces Celery's own ``DelayedDelivery`` consumer step
(``celery/worker/consumer/delayed_delivery.py``, Celery 5.5 to 5.7 at least), which, at
every start and after every reconnection, sets the delayed-delivery exchanges and queues
up once *per URL of a ``;``-separated failover list*, each through a new connection
retried up to three times with 1, 3 and 5 s sleeps (``retry_over_time`` with
``MAX_RETRIES = 3``, ``RETRY_INTERVAL = 1.0``), before the consumer starts consuming.
With one node of a cluster down, a worker idled ~18 s at start and ~17 s after each
reconnection (docs/SCALING.md). The nodes of a cluster share these declarations, so
declaring them once, on the connection the consumer has just made to a node that is up,
is enough, and costs no sleep. The step declares ``sendx.dead_letter`` (a quorum queue)
there too, so that it exists before the first dead letter, and says when an older
version's classic queue is in the way.

Failover URLs must therefore be nodes of one cluster (what kombu's failover is for): a
worker that fails over to an unrelated broker sets that broker up when it connects.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from celery import bootsteps
from celery.utils.quorum_queues import detect_quorum_queues
from kombu.common import Broadcast
from kombu.transport.native_delayed_delivery import (
    bind_queue_to_native_delayed_delivery_exchange,
    declare_native_delayed_delivery_exchanges_and_queues,
)

from ..deadletter import MIGRATE_HINT, DeadLetterUnavailable, ensure_dead_letter_queue
from ..logs import context

__all__ = ["CELERY_DELAYED_DELIVERY_STEP", "BrokerSetup", "consumer_steps"]

logger = logging.getLogger(__name__)

CELERY_DELAYED_DELIVERY_STEP = "celery.worker.consumer.delayed_delivery:DelayedDelivery"
BROKER_SETUP_STEP = f"{__name__}:BrokerSetup"


def consumer_steps(default_steps: list[str]) -> list[str]:
    """Celery's consumer steps with its ``DelayedDelivery`` replaced by :class:`BrokerSetup`."""
    return [BROKER_SETUP_STEP if step == CELERY_DELAYED_DELIVERY_STEP else step for step in default_steps]


class _Channels:
    """What kombu's delayed-delivery functions need of a connection (``channel()``), closing what they open."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._opened: list[Any] = []

    def channel(self) -> Any:
        channel = self._connection.channel()
        self._opened.append(channel)
        return channel

    def close(self) -> None:
        for channel in self._opened:
            with contextlib.suppress(Exception):
                channel.close()


class BrokerSetup(bootsteps.StartStopStep):
    """Declare native delayed delivery and ``sendx.dead_letter`` on the consumer's own connection."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def include_if(self, c: Any) -> bool:
        """As Celery's step: on RabbitMQ when a queue is a quorum queue (``sendx`` is)."""
        return bool(detect_quorum_queues(c.app, c.app.connection_for_write().transport.driver_type)[0])

    def start(self, c: Any) -> None:
        """Declare on ``c.connection``; a connection error propagates, and Celery reconnects and starts again."""
        connection = c.connection
        try:
            if ensure_dead_letter_queue(connection) == "classic":
                logger.warning(MIGRATE_HINT)
        except DeadLetterUnavailable as exc:
            # Dead letters are set aside on their messages until the queue is back.
            logger.error("the dead-letter queue is unavailable", extra=context(error=str(exc)))
        channels = _Channels(connection)
        try:
            declare_native_delayed_delivery_exchanges_and_queues(
                channels, c.app.conf.broker_native_delayed_delivery_queue_type
            )
            for queue in c.app.amqp.queues.values():
                if not isinstance(queue, Broadcast):
                    bind_queue_to_native_delayed_delivery_exchange(channels, queue)
        except c.connection_errors:
            raise
        except Exception as exc:
            # As Celery does: log it and go on consuming (retries cannot be published meanwhile).
            logger.critical(
                "native delayed delivery could not be set up", extra=context(error=f"{type(exc).__name__}: {exc}")
            )
        finally:
            channels.close()
