"""What every task reads (settings, retry policy, delivery counter, clients, observer) is made once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

import sendx_worker.tasks.base as task_base
from sendx_worker.celery_app import create_app, settings_of
from sendx_worker.observe import NULL_OBSERVER, observer_of
from sendx_worker.settings import load_settings
from sendx_worker.tasks.base import SendxTask
from sendx_worker.worker.deliveries import FileDeliveryCounter


def app_on(broker_url: str | None, tmp_path: Path) -> Celery:
    environ = {"SENDX_API_KEY": "k", "SENDX_TEAM_ID": "t", "SENDX_DATA_DIR": str(tmp_path)}
    if broker_url is not None:
        environ["CELERY_BROKER_URL"] = broker_url
    return create_app(load_settings(environ))


@pytest.fixture
def counted_counters(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    made: list[Any] = []
    original = task_base._make_counter

    def counting(task: SendxTask) -> Any:
        made.append(original(task))
        return made[-1]

    monkeypatch.setattr(task_base, "_make_counter", counting)
    yield made


def task_of(app: Celery) -> Any:
    @app.task(name="test.made_once", base=SendxTask, bind=True)
    def noop(self: SendxTask) -> None:
        return None

    return noop


@pytest.mark.parametrize(("broker_url", "expected"), [("amqp://guest:guest@127.0.0.1:5672//", None), (None, "file")])
def test_the_delivery_counter_is_made_once_even_when_there_is_none(
    broker_url: str | None, expected: str | None, tmp_path: Path, counted_counters: list[Any]
) -> None:
    app = app_on(broker_url, tmp_path)
    task = task_of(app)
    counters = [task.delivery_counter() for _ in range(3)]
    assert len(counted_counters) == 1, "RabbitMQ's None is a made counter, not a missing one"
    if expected is None:
        assert counters == [None, None, None]
    else:
        assert isinstance(counters[0], FileDeliveryCounter) and counters.count(counters[0]) == 3
    app.close()


def test_settings_policy_and_clients_are_the_same_objects_on_every_call(tmp_path: Path) -> None:
    app = app_on(None, tmp_path)
    task = task_of(app)
    assert task.settings is task.settings is settings_of(app)
    assert task.policy is task.policy
    assert task.policy.base_s == task.settings.retry_base_s
    assert task.client_for(None) is task.client_for(None)
    app.close()


def test_without_metrics_every_task_reports_to_the_one_null_observer(tmp_path: Path) -> None:
    app = app_on(None, tmp_path)
    assert observer_of(app) is NULL_OBSERVER
    assert task_of(app).observer is NULL_OBSERVER
    app.close()
