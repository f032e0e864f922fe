"""One long-lived worker per broker, fed messages that must not kill, stall or vanish.

Starting a worker costs seconds, so the hostile-message suites share one per broker
per module; each check clears the dead letters first, sends its messages and then a
valid one, and asserts that:

- each bad message ended as exactly one ``invalid_payload`` dead letter, after one delivery;
- SendX (the emulator) received no request but the valid message's;
- the valid message sent right after was delivered by the same, still running, worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sendx_worker.deadletter import DeadLetterQueue, DeadLetterRecord
from sendx_worker.emulator import Emulator
from tests.conftest import scrub_environment
from tests.delivery.conftest import API_KEY, TEAM_ID, Stack
from tests.support.brokers import isolated_broker
from tests.support.raw_messages import RawMessage, publish
from tests.support.workers import WorkerProcess


class Hostile:
    """A broker, the emulator and one worker, and the checks every hostile message must pass."""

    def __init__(self, stack: Stack, worker: WorkerProcess) -> None:
        self.stack = stack
        self.worker = worker

    @property
    def kind(self) -> str:
        return self.stack.broker.kind

    @property
    def broker_folder(self) -> Path:
        return self.stack.data_dir / "broker"

    def publish(self, messages: list[RawMessage]) -> None:
        publish(self.kind, self.stack.broker.url, self.stack.app, messages)

    def clear_dead_letters(self) -> None:
        DeadLetterQueue(self.stack.app.connection_for_write).take(lambda record: True, lambda record: None)

    def each_dead_lettered_once(
        self, send: Callable[[], object], count: int = 1, *, timeout: float = 90
    ) -> list[DeadLetterRecord]:
        """Run ``send`` (which enqueues ``count`` bad messages), then check the outcome; returns the records."""
        self.clear_dead_letters()
        before = len(self.stack.emulator.requests())
        send()
        email = self.valid_message_delivered(timeout=timeout)
        records = self.stack.wait_dead_letters(count, timeout=timeout)
        assert len(records) == count, [r.to_dict() for r in records]
        for record in records:
            assert record.reason == "invalid_payload", record.to_dict()
            assert record.attempts == 1, record.to_dict()
        reached = self.stack.emulator.requests()[before:]
        assert [self._email_of(request) for request in reached] == [email]
        self.still_running()
        return records

    def valid_message_delivered(self, *, timeout: float = 90) -> str:
        """Send a valid identify and wait until SendX has it; returns its e-mail."""
        email = f"ok-{uuid.uuid4().hex[:10]}@example.com"
        self.stack.identify({"email": email, "firstName": "Valid"})
        self.stack.wait_contact(email, timeout=timeout, firstName="Valid")
        return email

    def still_running(self) -> None:
        assert not self.worker.exited(), self.worker.log()[-4000:]
        assert not self.worker.saw("Unrecoverable error"), self.worker.log()[-4000:]

    @staticmethod
    def _email_of(request: dict[str, object]) -> object:
        body = request.get("body")
        return body.get("email") if isinstance(body, dict) else None


@contextmanager
def hostile_stack(kind: str, folder: Path) -> Iterator[Hostile]:
    """A broker of ``kind``, the emulator and one worker, for a whole module."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        scrub_environment(monkeypatch)
        monkeypatch.setenv("SENDX_DATA_DIR", str(folder))
        with (
            isolated_broker(kind, folder) as broker,
            Emulator(host="127.0.0.1", port=0, teams={TEAM_ID: API_KEY}) as emulator,
        ):
            stack = Stack(broker, emulator, folder)
            try:
                worker = stack.start_worker(concurrency=4, SENDX_MAX_DELIVERIES="3")
                yield Hostile(stack, worker)
            finally:
                stack.close()
