"""The worker's thread pool: Celery's ``threads`` pool on one plain queue.

Celery's ``threads`` pool hands each task to a ``concurrent.futures.ThreadPoolExecutor``:
every task makes a ``Future`` (with its own ``Condition`` and lock), takes the
executor's shutdown locks and its idle semaphore, and the pool thread sets the
``Future``'s result under its condition, which nobody reads (Celery's ``threads`` pool
calls back instead). That was ~6 % of a default worker's CPU (``python -m bench profile
--config default-x1``: ``submit``, ``_worker``, ``Future.__init__``). Here a task is
one tuple on a ``queue.SimpleQueue`` (a C queue) that ``limit`` threads take from, and
the rest is Celery's own :func:`~celery.concurrency.base.apply_target`, as before: the
same callbacks, acknowledgement and error handling.

Stopping (a warm shutdown) behaves as Celery's ``threads`` pool does: tasks not started
yet are dropped (their messages are not acknowledged, so the broker hands them out
again), the running ones finish, then the threads end.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from celery.concurrency.base import BasePool, apply_target

__all__ = ["ThreadPool"]

logger = logging.getLogger(__name__)

# A task as the pool holds it: apply_target's arguments.
Job = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], Callable[..., Any] | None, Callable[..., Any] | None]


class ThreadPool(BasePool):
    """``limit`` threads running Celery's tasks from one queue; selected by ``worker_pool`` (celeryconf)."""

    body_can_be_buffer = True
    signal_safe = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def on_start(self) -> None:
        for number in range(self.limit):
            thread = threading.Thread(target=self._run, name=f"sendx-pool-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def on_apply(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        callback: Callable[..., Any] | None = None,
        accept_callback: Callable[..., Any] | None = None,
        **_: Any,
    ) -> None:
        self._jobs.put((target, args or (), kwargs or {}, callback, accept_callback))

    def on_stop(self) -> None:
        self._end_threads()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        super().on_stop()

    def on_terminate(self) -> None:
        # A cold shutdown: nothing new starts; running tasks end with the process.
        self._end_threads()

    def _get_info(self) -> dict[str, Any]:
        info: dict[str, Any] = super()._get_info()
        info.update({"max-concurrency": self.limit, "threads": len(self._threads)})
        return info

    def _end_threads(self) -> None:
        """Drop the tasks not started, then tell each thread to end after its task in hand."""
        self._drop_waiting()
        for _ in self._threads:
            self._jobs.put(None)

    def _drop_waiting(self) -> None:
        while True:
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                return

    def _run(self) -> None:
        get = self._jobs.get
        while True:
            job = get()
            if job is None:
                return
            try:
                apply_target(*job)
            except BaseException:
                # apply_target hands a task's own failure to its callback; what reaches
                # here is a failure of the callbacks themselves (as the executor's
                # Future would have swallowed it): logged, and the thread goes on.
                logger.exception("a task's callback failed in the worker's thread pool")
