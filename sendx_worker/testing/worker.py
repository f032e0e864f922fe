"""``sendx_worker``: a real sendx-worker in a thread of the test process, and ``drain()``.

The worker is Celery's own (``celery.contrib.testing``'s work controller, solo pool)
running our tasks unchanged, on an in-memory broker of its own (or the embedded
filesystem broker in the test's folder), calling the emulator fixture. The retry policy
is production's with test numbers: a retry is taken at once, and the retry window is
a few seconds, so "SendX stays down" ends as ``retries_exhausted`` quickly.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..deadletter import DeadLetterQueue, DeadLetterRecord
from ..settings import Flavor, Settings, load_settings
from ..topology import WORK_QUEUE
from . import memory
from .emulator import API_KEY, TEAM_ID, EmulatorControls
from .tracking import Tracker

if TYPE_CHECKING:
    from celery import Celery
    from celery.result import AsyncResult

    from ..tasks.operations import Operation

__all__ = ["DrainTimeout", "ThreadWorker", "WorkerStartFailed"]

Broker = Literal["memory", "filesystem"]
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class DrainTimeout(AssertionError):
    """Raised by ``drain()`` when messages are still pending at its deadline; says which, and why."""


class WorkerStartFailed(RuntimeError):
    """Raised when the worker thread does not come up."""


class ThreadWorker:
    """One sendx-worker in a thread, its broker, and what it did with the test's messages.

    While it runs (:meth:`start` to :meth:`stop`) every ``identify()``/``track()`` of this
    process is published to its broker, whatever ``app=`` they name.
    """

    def __init__(
        self,
        emulator: EmulatorControls,
        data_dir: Path,
        *,
        broker: Broker = "memory",
        flavor: Flavor = "v1",
        retry_window_s: float = 3.0,
        timeout_s: float = 2.0,
        teams: tuple[str, ...] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        if broker not in ("memory", "filesystem"):
            raise ValueError(f"broker must be 'memory' or 'filesystem', not {broker!r}")
        self.emulator = emulator
        self._vhost = f"sendx-{uuid.uuid4().hex}"
        emulator.emulator.set_teams({TEAM_ID: API_KEY, **{team: _key(team) for team in teams}})
        environment = {
            "SENDX_API_KEY": API_KEY,
            "SENDX_TEAM_ID": TEAM_ID,
            "SENDX_API_FLAVOR": flavor,
            "SENDX_BASE_URL": emulator.base_url(flavor),
            "SENDX_DATA_DIR": str(data_dir),
            "SENDX_TIMEOUT": str(timeout_s),
            # Irrelevant to the wait (a retry is taken at once) but they bound a Retry-After.
            "SENDX_RETRY_BASE_S": "0.001",
            "SENDX_RETRY_CAP_S": "0.001",
            "SENDX_RETRY_WINDOW_S": str(retry_window_s),
            # Scripted failures must reach the emulator one by one, not trip a circuit breaker;
            # a test about the breaker passes env={"SENDX_FLOW_CONTROL": "on"}.
            "SENDX_FLOW_CONTROL": "off",
        }
        if teams:
            environment["SENDX_TEAMS"] = json.dumps({t: {"api_key": _key(t), "team_id": t} for t in teams})
        if broker == "memory":
            environment["CELERY_BROKER_URL"] = f"memory://localhost/{self._vhost}"
        environment.update(env or {})
        #: The worker's settings (read from ``environment``, never from os.environ).
        self.settings: Settings = load_settings(environment)
        self.broker: Broker = broker
        self.app: Celery = _build_app(self.settings, broker)
        self.tracker = Tracker(self.app, lambda: self._thread)
        self._controller: Any = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._publishing: Any = None

    # -- life ----------------------------------------------------------------------------------

    def start(self) -> ThreadWorker:
        """Start the worker thread and send this process's identify()/track() to it."""
        from celery.contrib.testing.worker import TestWorkController

        from ..producer import use_publisher

        self.app.sendx_observer = self.tracker
        try:
            self._controller = TestWorkController(
                app=self.app,
                hostname=f"{self._vhost}@localhost",
                pool="solo",
                concurrency=1,
                loglevel="WARNING",
                logfile=None,
                ready_callback=None,
                without_heartbeat=True,
                without_mingle=True,
                without_gossip=True,
            )
        except SystemExit as exc:  # the worker's start-up checks leave with one line
            raise WorkerStartFailed(f"the sendx-worker did not start: {exc.code}") from None
        self.tracker.connect()

        def run() -> None:
            # Celery runs a task on the calling thread's current app: make it ours here
            # only, leaving the test thread's current app alone.
            self.app.set_current()
            self._controller.start()

        self._thread = threading.Thread(target=run, name=f"sendx-worker-{self._vhost[6:14]}", daemon=True)
        self._thread.start()
        started = self._controller._on_started
        deadline = time.monotonic() + START_TIMEOUT_S
        while not started.wait(0.05):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise WorkerStartFailed("the sendx-worker thread did not start; see the log above")
        self._publishing = use_publisher(self)
        self._publishing.__enter__()
        return self

    def stop(self) -> None:
        """Stop sending to the worker, stop it (warm: the message in hand finishes), drop its broker; once."""
        if self._stopped:
            return
        self._stopped = True
        if self._publishing is not None:
            self._publishing.__exit__(None, None, None)
            self._publishing = None
        thread = self._thread
        if thread is not None and thread.is_alive():
            # A remote-control shutdown wakes the consumer at once; setting Celery's
            # should_stop flag would wait for its next two-second poll.
            self.app.control.shutdown(destination=[self._controller.hostname])
            thread.join(STOP_TIMEOUT_S)
            if thread.is_alive():
                from celery.worker import state

                state.should_terminate = 0
                thread.join(STOP_TIMEOUT_S)
        self.tracker.disconnect()
        self.app.close()
        if self.broker == "memory":
            memory.forget(self._vhost)

    # -- the producer seam: identify()/track() publish here ------------------------------------

    def flavor(self, app: Celery) -> Flavor:
        """The worker's flavor: what its SendX expects."""
        return self.settings.api_flavor

    def publish(self, app: Celery, task: str, kwargs: dict[str, Any], options: dict[str, Any]) -> AsyncResult:
        """Publish on the worker's broker, exactly as production publishes on the app's."""
        from ..producer import publish_to_broker

        return publish_to_broker(self.app, task, kwargs, options)

    def attach(self, app: Celery) -> Celery:
        """Point an app's own Celery app at this worker's broker (for ``send_task`` by name); returns it."""
        app.conf.update(
            broker_url=self.app.conf.broker_url,
            broker_read_url=self.app.conf.broker_url,
            broker_write_url=self.app.conf.broker_url,
            broker_transport=self.app.conf.broker_transport,
            broker_transport_options=dict(self.app.conf.broker_transport_options),
        )
        return app

    # -- waiting and asserting -----------------------------------------------------------------

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every message this test enqueued is delivered or dead-lettered.

        Raises, in the test, an error the worker met that no message should meet (an
        exception in a task, a retry or dead letter that could not be published), after
        stopping the worker; :class:`DrainTimeout` naming each pending message and SendX's
        last answer to it.
        """
        deadline = time.monotonic() + timeout
        tracker = self.tracker
        while True:
            done = tracker.wait(deadline, lambda: not tracker.pending)
            error = tracker.take_error()
            if error is not None:
                # Stopped first: a worker thread still at work (retrying the failing task at
                # once, logging its traceback) while pytest formats this error can make
                # CPython 3.11's ast.parse, which both use, fail ("AST constructor recursion
                # depth mismatch") and turn the test's failure into an INTERNALERROR.
                self.stop()
                raise error
            if not tracker.worker_alive():
                raise WorkerStartFailed("the sendx-worker thread has stopped; see the log above")
            # Also wait for what the signals cannot see: a message put on the queue by
            # another program, or by name under a task name the worker does not know.
            if done and self._queue_is_empty():
                return
            if time.monotonic() >= deadline:
                raise DrainTimeout(self._pending_report(timeout))
            time.sleep(0.01)

    @property
    def dead_letters(self) -> list[DeadLetterRecord]:
        """The dead letters on the worker's broker, oldest first (reading leaves them in place)."""
        return DeadLetterQueue(self.app.connection_for_write).records()

    def assert_dead_lettered(
        self, email: str, reason: str | None = None, *, status: int | None = None
    ) -> DeadLetterRecord:
        """Assert a dead letter about ``email`` (with ``reason`` and HTTP ``status``, if given); return it."""
        records = self.dead_letters
        for record in records:
            if _email_of(record) == email and reason in (None, record.reason) and status in (None, record.status):
                return record
        wanted = ", ".join(f"{k}={v!r}" for k, v in (("reason", reason), ("status", status)) if v is not None)
        listing = "\n".join(f"  {_describe(record)}" for record in records) or "  (none)"
        raise AssertionError(
            f"expected a dead letter for {email!r}{' with ' + wanted if wanted else ''}; the dead letters:\n{listing}"
        )

    def assert_no_dead_letters(self) -> None:
        """Assert that nothing was dead-lettered."""
        records = self.dead_letters
        if records:
            listing = "\n".join(f"  {_describe(record)}" for record in records)
            raise AssertionError(f"expected no dead letters, found {len(records)}:\n{listing}")

    def _queue_is_empty(self) -> bool:
        with self.app.connection_for_read() as connection:
            _, ready, _ = connection.default_channel.queue_declare(queue=WORK_QUEUE, passive=True)
            return int(ready) == 0

    def _pending_report(self, timeout: float) -> str:
        with self.tracker.changed:
            pending = [self.tracker.messages[task_id] for task_id in sorted(self.tracker.pending)]
        lines = [f"  {message.describe()}" for message in pending]
        if not lines:
            lines = ["  a message on the queue that no identify()/track() of this process published"]
        return f"drain(timeout={timeout:g}): {len(lines)} message(s) still pending:\n" + "\n".join(lines)


def _build_app(settings: Settings, broker: Broker) -> Celery:
    from .. import tasks  # noqa: F401 - registers our shared tasks
    from ..celery_app import create_app
    from ..tasks.base import SendxTask
    from ..tasks.operations import IDENTIFY, TRACK

    app = create_app(settings)
    app.finalize()
    for operation in (IDENTIFY, TRACK):
        # Our tasks are shared tasks, so a new app gets its own copies when it is finalized.
        # Not when Celery's own `celery_app` fixture wrapped the test that first imported
        # them: it restores Celery's list of shared tasks afterwards, forgetting ours for
        # the rest of the session. Then they are made here, the same way.
        if operation.task_name not in app.tasks:
            app.task(name=operation.task_name, base=SendxTask, bind=True, shared=False, lazy=False)(
                _task_function(operation)
            )
    if broker == "memory":
        app.conf.broker_transport = memory.TRANSPORT
    else:
        options = dict(app.conf.broker_transport_options)
        options["polling_interval"] = 0.01
        app.conf.broker_transport_options = options
    return app


def _task_function(operation: Operation) -> Callable[..., str]:
    """What sendx_worker/tasks/identify.py and track.py decorate: one delivery attempt."""
    from ..tasks.delivery import deliver

    def run(self: Any, *args: Any, **kwargs: Any) -> str:
        return deliver(self, operation, args, kwargs)

    run.__name__ = operation.task_name.rpartition(".")[2]
    return run


def _key(team: str) -> str:
    return f"test-key-{team}"


def _email_of(record: DeadLetterRecord) -> str | None:
    payload = record.payload
    email = payload.get("email") if isinstance(payload, dict) else None
    return email if isinstance(email, str) else None


def _describe(record: DeadLetterRecord) -> str:
    status = f" HTTP {record.status}" if record.status is not None else ""
    return f"{record.task} for {_email_of(record)!r}: {record.reason}{status}: {record.error}"
