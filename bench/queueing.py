"""Producing from the benchmark process: apps on an isolated broker, filling and measuring queues."""

from __future__ import annotations

import time
from typing import Any

from celery import Celery

from sendx_worker import Settings, create_app

from . import dramatiq_app, naive_app
from .common import KEY, TEAM, Broker, identify_body
from .workers import WorkerSpec

__all__ = [
    "IDENTIFY_TASK",
    "declare_sendx_queue",
    "fill",
    "fill_payloads",
    "naive_producer_app",
    "purge",
    "queue_depth",
    "sendx_app",
]

IDENTIFY_TASK = "sendx.identify_contact"


def sendx_app(broker: Broker, base_url: str = "http://127.0.0.1:9/api/v1") -> Celery:
    """A sendx-worker app on ``broker``, configured as the worker is (confirms and all)."""
    settings = Settings(
        api_key=KEY,
        team_id=TEAM,
        base_url=base_url,
        broker_url=broker.url,
        data_dir=broker.data_dir,
    )
    app = create_app(settings)
    _ = app.conf.broker_url  # configure now
    return app


def naive_producer_app(broker: Broker) -> Celery:
    """The naive app on ``broker``, for publishing its tasks."""
    return naive_app.make_app(broker.url, broker.data_dir)


def fill(spec: WorkerSpec, broker: Broker, count: int, *, first: int = 0) -> None:
    """Put ``count`` identify tasks for ``spec``'s app on its queue, before its worker starts.

    Filling is set-up, not what is measured: sendx-worker's queue is filled without
    publisher confirms (the worker publishes its own retries with them).
    """
    if spec.dramatiq:
        _fill_dramatiq(broker, count, first)
        return
    if spec.naive:
        app = naive_producer_app(broker)
        name = naive_app.TASK
    else:
        app = sendx_app(broker)
        options_of_broker = dict(app.conf.broker_transport_options or {})
        options_of_broker.pop("confirm_publish", None)
        app.conf.broker_transport_options = options_of_broker
        name = IDENTIFY_TASK
        declare_sendx_queue(app)
    try:
        with app.producer_or_acquire() as producer:
            for number in range(first, first + count):
                app.send_task(name, kwargs={"payload": identify_body(number)}, producer=producer)
        _wait_for_depth(app, spec.queue, count)
    finally:
        app.close()


def fill_payloads(broker: Broker, payloads: list[dict[str, Any]]) -> None:
    """Put one sendx-worker identify task per payload on ``sendx``, with publisher confirms.

    Unlike :func:`fill` it cannot wait for the queue to hold them all (workers may already
    be consuming), so each publish is confirmed instead: a benchmark that counts lost
    messages must not lose any itself.
    """
    app = sendx_app(broker)
    declare_sendx_queue(app)
    try:
        with app.producer_or_acquire() as producer:
            for payload in payloads:
                app.send_task(IDENTIFY_TASK, kwargs={"payload": payload}, producer=producer)
    finally:
        app.close()


def _wait_for_depth(app: Celery, queue: str, count: int) -> None:
    # Unconfirmed publishes may still be on their way into the queue.
    deadline = time.monotonic() + 30
    while (depth := queue_depth(app, queue)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"filled {count} messages but the queue {queue!r} holds {depth}")
        time.sleep(0.1)


def _fill_dramatiq(broker: Broker, count: int, first: int) -> None:
    if broker.url is None:
        raise ValueError("Dramatiq needs RabbitMQ or Redis, not the embedded broker")
    peer = dramatiq_app.make_broker(broker.url)
    try:
        dramatiq_app.declare(peer)
        for number in range(first, first + count):
            peer.enqueue(dramatiq_app.message_for(identify_body(number)))
    finally:
        peer.close()
    if broker.kind == "rabbitmq":  # Redis's enqueue is synchronous; RabbitMQ's publishes are not confirmed
        app = naive_producer_app(broker)  # any app on the vhost can ask the queue's depth
        try:
            _wait_for_depth(app, dramatiq_app.QUEUE, count)
        finally:
            app.close()


def declare_sendx_queue(app: Celery) -> None:
    """Declare the work queue as the worker does (a bare ``send_task`` by exchange would not)."""
    with app.connection_for_write() as connection:
        for queue in app.conf.task_queues:
            queue.bind(connection.default_channel).declare()


def queue_depth(app: Celery, queue: str) -> int:
    """Messages ready on ``queue`` (RabbitMQ, Redis and the filesystem all answer a passive declare)."""
    with app.connection_for_write() as connection:
        answer: Any = connection.default_channel.queue_declare(queue=queue, passive=True)
        return int(answer.message_count)


def purge(spec: WorkerSpec, broker: Broker) -> None:
    """Empty ``spec``'s queue (what a failed run may have left behind)."""
    if spec.dramatiq:
        if broker.url is not None:
            peer = dramatiq_app.make_broker(broker.url)
            try:
                dramatiq_app.declare(peer)
                peer.flush(dramatiq_app.QUEUE)
            finally:
                peer.close()
        return
    app = naive_producer_app(broker) if spec.naive else sendx_app(broker)
    try:
        if not spec.naive:
            declare_sendx_queue(app)
        with app.connection_for_write() as connection:
            try:
                connection.default_channel.queue_purge(spec.queue)
            except Exception:
                # A naive queue that was never declared has nothing to purge.
                if not spec.naive:
                    raise
    finally:
        app.close()
