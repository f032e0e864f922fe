"""What a worker fixture knows about the messages of its test: pending, finished, failed.

Celery's signals report every publish (retries too) and every task run in this
process; the fixture's observer adds SendX's last answer to each message. ``drain()``
waits on this until nothing is pending, and re-raises an error no task should meet.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import signals

from ..masking import mask_email
from ..observe import NullObserver
from .calls import OPERATIONS

__all__ = ["Message", "Tracker"]

# Loggers whose ERROR records with a traceback mean something went wrong that no test
# means to provoke: an exception the delivery code did not expect, a retry or a dead
# letter that could not be published (the message is then requeued, again and again).
WATCHED_LOGGERS = ("sendx_worker.tasks.delivery", "sendx_worker.worker.consumer")


@dataclass
class Message:
    """One message of the test, followed through its attempts."""

    task_id: str
    task: str
    email: str | None
    attempts: int = 0
    calls: int = 0
    last_status: int | None = None
    outcome: str | None = None

    def describe(self) -> str:
        """``sendx.track_tags for a***@example.com (task 1f2e...): 3 attempt(s), last SendX answer HTTP 404``."""
        who = f" for {mask_email(self.email)}" if self.email else ""
        if not self.attempts:
            last = "not taken by the worker yet"
        elif not self.calls:
            last = f"{self.attempts} attempt(s), no call to SendX yet"
        elif self.last_status is None:
            last = f"{self.attempts} attempt(s), the last call got no answer from SendX (refused, reset or timed out)"
        else:
            last = f"{self.attempts} attempt(s), last SendX answer HTTP {self.last_status}"
        return f"{self.task}{who} (task {self.task_id}): {last}"


class Tracker(NullObserver):
    """Follows the messages of one worker app; also its ``app.sendx_observer``."""

    def __init__(self, app: Any, worker_thread: Callable[[], threading.Thread | None]) -> None:
        self._app = app
        self._worker_thread = worker_thread
        self.changed = threading.Condition()
        self.messages: dict[str, Message] = {}
        self.pending: set[str] = set()
        self.errors: list[BaseException] = []
        self._running = threading.local()
        self._handler = _ErrorHandler(self)

    # -- wiring --------------------------------------------------------------------------------

    def connect(self) -> None:
        """Start listening to Celery's signals and the delivery loggers."""
        signals.before_task_publish.connect(self._before_publish, weak=False)
        signals.task_prerun.connect(self._prerun, weak=False)
        signals.task_postrun.connect(self._postrun, weak=False)
        signals.task_failure.connect(self._failure, weak=False)
        for name in WATCHED_LOGGERS:
            logging.getLogger(name).addHandler(self._handler)

    def disconnect(self) -> None:
        """Stop listening."""
        signals.before_task_publish.disconnect(self._before_publish)
        signals.task_prerun.disconnect(self._prerun)
        signals.task_postrun.disconnect(self._postrun)
        signals.task_failure.disconnect(self._failure)
        for name in WATCHED_LOGGERS:
            logging.getLogger(name).removeHandler(self._handler)

    # -- Celery's signals ----------------------------------------------------------------------

    def _before_publish(self, sender: Any = None, headers: Any = None, body: Any = None, **_: Any) -> None:
        # Any publish of our tasks in this process: from identify()/track(), from the
        # app's own Celery app by name, and the worker's retries (same id).
        if sender not in OPERATIONS or not isinstance(headers, dict) or "id" not in headers:
            return
        if headers.get("retries"):
            # The test retry policy: a retry is taken at once, not after its countdown
            # (which is at least a second: RabbitMQ counts whole seconds).
            headers["eta"] = None
        task_id = str(headers["id"])
        with self.changed:
            if task_id not in self.messages:
                self.messages[task_id] = Message(task_id, str(sender), _email_of(body))
            self.pending.add(task_id)
            self.changed.notify_all()

    def _ours(self, task: Any) -> bool:
        return getattr(task, "app", None) is self._app

    def _prerun(self, task_id: str = "", task: Any = None, **_: Any) -> None:
        if not self._ours(task):
            return
        self._running.task_id = task_id
        with self.changed:
            message = self.messages.get(task_id)
            if message is not None:
                message.attempts += 1

    def _postrun(self, task_id: str = "", task: Any = None, retval: Any = None, state: str = "", **_: Any) -> None:
        if not self._ours(task):
            return
        self._running.task_id = None
        with self.changed:
            message = self.messages.get(task_id)
            if message is not None:
                message.outcome = retval if isinstance(retval, str) else state.lower()
            # Done for good: delivered or dead-lettered (SUCCESS), or failed. A retry or a
            # requeue keeps the message pending.
            if state in ("SUCCESS", "FAILURE"):
                self.pending.discard(task_id)
            self.changed.notify_all()

    def _failure(self, task_id: str = "", exception: BaseException | None = None, sender: Any = None, **_: Any) -> None:
        if self._ours(sender) and exception is not None:
            self.unexpected(exception, f"the task {getattr(sender, 'name', '?')} (task {task_id}) failed")

    # -- the observer seam (sendx_worker.observe) ----------------------------------------------

    def sendx_call(self, operation: str, status: int | None, seconds: float) -> None:
        """Keep SendX's answer to the message the calling worker thread runs."""
        task_id = getattr(self._running, "task_id", None)
        with self.changed:
            message = self.messages.get(task_id) if task_id else None
            if message is not None:
                message.calls += 1
                message.last_status = status

    # -- errors --------------------------------------------------------------------------------

    def unexpected(self, error: BaseException, where: str) -> None:
        """Keep an error for drain() to raise in the test."""
        error.add_note(f"sendx_worker fixture: raised in the worker thread: {where}")
        with self.changed:
            self.errors.append(error)
            self.changed.notify_all()

    def take_error(self) -> BaseException | None:
        """The first error not raised yet, if any."""
        with self.changed:
            return self.errors.pop(0) if self.errors else None

    def wait(self, deadline: float, done: Callable[[], bool]) -> bool:
        """Wait until ``done()``, an error, or ``deadline`` (monotonic); True when done."""
        while True:
            with self.changed:
                if self.errors:
                    return False
                if done():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                # Woken by every publish and every finished run; the timeout also
                # catches what no signal reports (a queue emptied, a worker that died).
                self.changed.wait(min(remaining, 0.05))

    def worker_alive(self) -> bool:
        """Whether the worker thread is still running."""
        thread = self._worker_thread()
        return thread is not None and thread.is_alive()


class _ErrorHandler(logging.Handler):
    """Catches the worker thread's ERROR records that carry an exception."""

    def __init__(self, tracker: Tracker) -> None:
        super().__init__(logging.ERROR)
        self._tracker = tracker

    def emit(self, record: logging.LogRecord) -> None:
        thread = self._tracker._worker_thread()
        if thread is None or record.thread != thread.ident or not record.exc_info or record.exc_info[1] is None:
            return
        fields = getattr(record, "sendx", {}) or {}
        where = f"{record.getMessage()} ({fields.get('task', '?')}, task {fields.get('task_id', '?')})"
        self._tracker.unexpected(record.exc_info[1], where)


def _email_of(body: Any) -> str | None:
    # Protocol 2: (args, kwargs, embed).
    if isinstance(body, list | tuple) and len(body) >= 2 and isinstance(body[1], dict):
        payload = body[1].get("payload")
        if isinstance(payload, dict) and isinstance(payload.get("email"), str):
            return str(payload["email"])
    return None
