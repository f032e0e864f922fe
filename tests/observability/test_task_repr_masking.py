"""What Celery logs and shows in events never holds a plain address or an API key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from celery.events.event import get_exchange
from kombu import Connection, Queue

from sendx_worker import identify
from tests.delivery.conftest import Stack
from tests.observability.conftest import API_KEY, declare_topology, drain
from tests.support.waiting import wait_for

EMAIL = "john.doe@example.com"
MASKED = "j***@example.com"


class EventTap:
    """A queue bound to Celery's event exchange: every task event published on the vhost."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> EventTap:
        with Connection(self.url) as conn:
            self._queue(conn).declare()
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def _queue(self, conn: Connection) -> Queue:
        return Queue("obs-event-tap", get_exchange(conn), routing_key="task.#", durable=False)(conn.default_channel)

    def collect(self) -> list[dict[str, Any]]:
        """Take the events published so far (kept in ``self.events``)."""
        with Connection(self.url) as conn:
            queue = self._queue(conn)
            while (message := queue.get(no_ack=True, accept=["json"])) is not None:
                body = message.decode()
                # A worker buffers its task events and sends them in batches (lists).
                self.events.extend(body if isinstance(body, list) else [body])
        return self.events

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.collect() if e.get("type") == kind]


@pytest.fixture(autouse=True)
def task_events_on(stack: Stack) -> None:
    """Task events are opt-in (SENDX_TASK_EVENTS=1); these tests read them."""
    stack.env["SENDX_TASK_EVENTS"] = "1"


@pytest.fixture
def tap(stack: Stack) -> Iterator[EventTap]:
    declare_topology(stack.broker.url)
    with EventTap(stack.broker.url) as found:
        yield found


def test_the_published_message_shows_a_masked_address_and_no_key_in_its_reprs(stack: Stack, tap: EventTap) -> None:
    result = identify(
        EMAIL, first_name="John", custom_fields={"Referrer": "mary@example.org"}, tags=["Trial"], app=stack.app
    )
    (message,) = drain(stack.broker.url)
    headers = message.headers

    assert headers["task"] == "sendx.identify_contact"
    assert headers["id"] == result.id
    assert headers["argsrepr"] == "()"
    assert MASKED in headers["kwargsrepr"]
    assert "m***@example.org" in headers["kwargsrepr"]
    assert EMAIL not in json.dumps(headers)
    assert "mary@example.org" not in json.dumps(headers)
    # The body carries the address the worker must send, but never a key.
    args, kwargs, _embed = message.decode()
    assert (args, kwargs["payload"]["email"]) == ([], EMAIL)
    raw = message.body.decode() if isinstance(message.body, bytes) else message.body
    assert API_KEY not in raw + json.dumps(headers)

    (sent,) = wait_for(lambda: tap.of_type("task-sent"), what="the task-sent event")
    assert sent["uuid"] == result.id
    assert sent["args"] == "()"
    assert MASKED in sent["kwargs"]
    assert EMAIL not in json.dumps(sent)


def test_a_worker_logs_and_reports_the_task_without_the_plain_address(stack: Stack, tap: EventTap) -> None:
    stack.emulator.set_faults(script={EMAIL: [503, 200]})  # a retry republishes the message
    # At DEBUG, so that Celery's own per-task lines ("received", "succeeded in") are logged too.
    worker = stack.start_worker(extra_args=("--loglevel", "DEBUG"))
    task_id = identify(EMAIL, first_name="John", app=stack.app).id
    stack.wait_contact(EMAIL, firstName="John")
    wait_for(lambda: len(tap.of_type("task-succeeded")) >= 1, what="the task-succeeded event")
    wait_for(lambda: worker.saw("delivered"), what="the delivered log line")

    received = [line for line in worker.lines if f"Task sendx.identify_contact[{task_id}] received" in line]
    assert len(received) == 2  # the first attempt and its retry
    assert worker.saw(f"Task sendx.identify_contact[{task_id}] succeeded in")
    assert EMAIL not in worker.log()
    assert API_KEY not in worker.log()
    assert MASKED in worker.log()

    events = tap.collect()
    kinds = {e["type"] for e in events}
    assert {"task-sent", "task-received", "task-retried", "task-succeeded"} <= kinds
    for event in tap.of_type("task-received"):
        assert MASKED in event["kwargs"]
    leaked = [e for e in events if EMAIL in json.dumps(e) or API_KEY in json.dumps(e)]
    assert leaked == []
