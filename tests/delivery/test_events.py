"""Workers send Celery events, so Flower and `celery events` show the tasks."""

from __future__ import annotations

import threading
from typing import Any

from sendx_worker.emulator import Emulator
from tests.delivery.conftest import Stack
from tests.support.brokers import rabbitmq_vhost
from tests.support.waiting import wait_for


def test_a_delivered_task_shows_up_in_celery_events_with_its_email_masked(emulator: Emulator, tmp_path: Any) -> None:
    with rabbitmq_vhost() as broker:
        stack = Stack(broker, emulator, tmp_path)
        stack.env["SENDX_TASK_EVENTS"] = "1"
        seen: list[dict[str, Any]] = []
        try:
            with stack.app.connection_for_read() as connection:
                receiver = stack.app.events.Receiver(connection, handlers={"*": seen.append})

                def listen() -> None:
                    for _ in receiver.itercapture(limit=None, timeout=None, wakeup=True):
                        pass

                stack.start_worker()
                threading.Thread(target=listen, daemon=True).start()
                # A worker heartbeat arriving means the receiver's queue is bound.
                wait_for(lambda: any(e.get("type") == "worker-heartbeat" for e in seen), what="a worker heartbeat")
                from sendx_worker import identify

                task_id = identify("evan@example.com", first_name="Evan", app=stack.app).id
                wait_for(
                    lambda: any(e.get("type") == "task-succeeded" and e.get("uuid") == task_id for e in seen),
                    what="task-succeeded event",
                )
                receiver.should_stop = True
        finally:
            stack.close()
    types = {e["type"] for e in seen if e.get("uuid") == task_id}
    assert {"task-sent", "task-received", "task-started", "task-succeeded"} <= types
    received = next(e for e in seen if e.get("uuid") == task_id and e["type"] == "task-received")
    assert "evan@example.com" not in str(received)
    assert "e***@example.com" in received["kwargs"]
