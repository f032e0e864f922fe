"""A real delivery stack per test: an isolated broker, the emulator, worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from sendx_worker.celery_app import create_app
from sendx_worker.deadletter import DeadLetterQueue, DeadLetterRecord
from sendx_worker.emulator import Emulator
from sendx_worker.settings import load_settings
from tests.support.brokers import IsolatedBroker, isolated_broker
from tests.support.waiting import wait_for
from tests.support.workers import WorkerProcess

API_KEY = "test-api-key-5ecret"
TEAM_ID = "team-test"
BROKERS = ["rabbitmq", "redis", "filesystem"]


class Stack:
    """Everything one delivery test needs, wired together."""

    def __init__(self, broker: IsolatedBroker, emulator: Emulator, data_dir: Path) -> None:
        self.broker = broker
        self.emulator = emulator
        self.data_dir = data_dir
        self.env: dict[str, str] = {
            "CELERY_BROKER_URL": broker.url,
            "SENDX_DATA_DIR": str(data_dir),
            "SENDX_API_KEY": API_KEY,
            "SENDX_TEAM_ID": TEAM_ID,
            "SENDX_BASE_URL": emulator.base_url("v1"),
            "SENDX_TIMEOUT": "2",
            "SENDX_RETRY_BASE_S": "0.05",
            "SENDX_RETRY_CAP_S": "1",
            "SENDX_RETRY_WINDOW_S": "120",
        }
        if broker.kind == "rabbitmq":
            # Ordering needs a state store; on RabbitMQ there is no default. A file
            # beside the test's data serves the workers of one host.
            self.env["SENDX_STATE_URL"] = f"sqlite:///{data_dir / 'state.sqlite3'}"
        self.workers: list[WorkerProcess] = []
        self._app: Celery | None = None

    @property
    def app(self) -> Celery:
        """A producer-side app with the same settings as the workers."""
        if self._app is None:
            self._app = create_app(load_settings(self.env))
        return self._app

    def start_worker(
        self, *, concurrency: int = 8, wait_ready: bool = True, extra_args: tuple[str, ...] = (), **env: str
    ) -> WorkerProcess:
        worker = WorkerProcess(
            {**self.env, **env},
            concurrency=concurrency,
            log_path=self.data_dir / f"worker-{len(self.workers)}.log",
            extra_args=extra_args,
        )
        self.workers.append(worker)
        return worker.start(wait_ready=wait_ready)

    def send(self, task: str, **kwargs: Any) -> str:
        """Enqueue like a foreign program: plain send_task by name."""
        return str(self.app.send_task(task, kwargs=kwargs).id)

    def identify(self, payload: dict[str, Any], **kwargs: Any) -> str:
        return self.send("sendx.identify_contact", payload=payload, **kwargs)

    def track(self, payload: dict[str, Any], **kwargs: Any) -> str:
        return self.send("sendx.track_tags", payload=payload, **kwargs)

    def dead_letters(self) -> list[DeadLetterRecord]:
        return DeadLetterQueue(self.app.connection_for_write).records()

    def wait_dead_letters(self, count: int, timeout: float = 60) -> list[DeadLetterRecord]:
        def enough() -> list[DeadLetterRecord]:
            found = self.dead_letters()
            return found if len(found) >= count else []

        return wait_for(enough, timeout=timeout, interval=0.3, what=f"{count} dead letter(s)")

    def wait_contact(self, email: str, timeout: float = 60, **expected: Any) -> dict[str, Any]:
        def matches() -> dict[str, Any] | None:
            contact = self.emulator.contact(email)
            if contact and all(contact.get(k) == v for k, v in expected.items()):
                return contact
            return None

        found: dict[str, Any] = wait_for(matches, timeout=timeout, what=f"contact {email} {expected}")
        return found

    def api_requests(self, email: str | None = None) -> list[dict[str, Any]]:
        found = self.emulator.requests()
        if email is None:
            return found
        return [
            r
            for r in found
            if email
            in (
                r.get("query", {}).get("email"),
                (r.get("body") or {}).get("email") if isinstance(r.get("body"), dict) else None,
            )
        ]

    def close(self) -> None:
        for worker in self.workers:
            worker.stop(timeout=30)
        if self._app is not None:
            self._app.close()


@pytest.fixture(params=BROKERS)
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IsolatedBroker]:
    with isolated_broker(request.param, tmp_path) as found:
        yield found


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(host="127.0.0.1", port=0, teams={TEAM_ID: API_KEY}) as emu:
        yield emu


@pytest.fixture
def stack(broker: IsolatedBroker, emulator: Emulator, tmp_path: Path) -> Iterator[Stack]:
    built = Stack(broker, emulator, tmp_path)
    try:
        yield built
    finally:
        built.close()
