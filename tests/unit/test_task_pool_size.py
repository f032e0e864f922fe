"""Each client's connection pool is sized to the worker's real concurrency, not to app.conf."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery, signals

from sendx_worker.celery_app import create_app
from sendx_worker.settings import load_settings
from sendx_worker.tasks.base import DEFAULT_POOL_SIZE, SendxTask
from sendx_worker.worker.signals import worker_concurrency


@pytest.fixture
def app() -> Iterator[Celery]:
    built = create_app(load_settings({"SENDX_API_KEY": "k", "SENDX_TEAM_ID": "t"}))
    yield built
    built.close()


def task_of(app: Celery) -> Any:
    @app.task(name="test.pool_size", base=SendxTask, bind=True)
    def noop(self: SendxTask) -> None:
        return None

    return noop


class Controller:
    """The attributes of Celery's WorkController that matter here (hashable, as signal senders must be)."""

    def __init__(self, app: Celery, concurrency: int | str) -> None:
        self.app = app
        self.concurrency = concurrency
        self.max_concurrency: int | None = None


def started(app: Celery, concurrency: int | str) -> Controller:
    """Send worker_init as Celery's WorkController does, with the attributes it has at that point."""
    controller = Controller(app, concurrency)
    signals.worker_init.send(sender=controller)
    return controller


def test_outside_a_worker_the_pool_follows_the_configuration(app: Celery) -> None:
    assert worker_concurrency(app) is None
    assert task_of(app)._pool_size() == max(app.conf.worker_concurrency, DEFAULT_POOL_SIZE)


def test_in_a_worker_started_with_c_256_the_pool_holds_256(app: Celery) -> None:
    started(app, concurrency=256)  # `-c 256`: on the controller; app.conf still says 64
    assert worker_concurrency(app) == 256
    task = task_of(app)
    assert task._pool_size() == 256
    assert task.client_for(None).pool_size == 256


def test_autoscales_maximum_counts_once_celery_has_settled_it(app: Celery) -> None:
    controller = started(app, concurrency="auto")  # `-c auto` is resolved after worker_init
    assert worker_concurrency(app) is None
    controller.concurrency = 2
    controller.max_concurrency = 200  # `--autoscale 200,10`, set by the Pool bootstep
    assert worker_concurrency(app) == 200
    assert task_of(app)._pool_size() == 200


def test_a_small_concurrency_keeps_the_floor(app: Celery) -> None:
    started(app, concurrency=4)
    assert task_of(app)._pool_size() == DEFAULT_POOL_SIZE
