"""The worker's thread pool: Celery's ``threads`` pool contract on one plain queue.

Real threads; every wait is on an event with a timeout.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sendx_worker.celeryconf import WORKER_POOL
from sendx_worker.worker.threads import ThreadPool

WAIT_S = 10


@pytest.fixture
def pool() -> Any:
    started = ThreadPool(limit=2)
    started.start()
    yield started
    started.stop()


def test_the_app_runs_this_pool_unless_told_otherwise() -> None:
    module, _, name = WORKER_POOL.partition(":")
    assert (module, name) == (ThreadPool.__module__, ThreadPool.__name__)


def test_a_task_runs_with_celerys_callbacks(pool: ThreadPool) -> None:
    accepted: list[tuple[int, float]] = []
    results: list[Any] = []
    done = threading.Event()

    def on_result(value: Any) -> None:
        results.append(value)
        done.set()

    pool.apply_async(
        lambda a, b=0: a + b,
        args=(2,),
        kwargs={"b": 3},
        callback=on_result,
        accept_callback=lambda pid, at: accepted.append((pid, at)),
    )
    assert done.wait(WAIT_S)
    assert results == [5]
    assert len(accepted) == 1
    assert pool.info["max-concurrency"] == 2
    assert pool.info["threads"] == 2


def test_tasks_run_side_by_side_up_to_the_limit(pool: ThreadPool) -> None:
    both_in = threading.Barrier(3)  # two tasks and this test meet: the pool runs two at once

    for _ in range(2):
        pool.apply_async(lambda: both_in.wait(WAIT_S), callback=lambda _: None)
    both_in.wait(WAIT_S)


def test_a_failing_callback_does_not_cost_the_pool_a_thread(pool: ThreadPool) -> None:
    def broken(_: Any) -> None:
        raise RuntimeError("callback bug")

    for _ in range(4):  # more than the pool's threads
        pool.apply_async(lambda: None, callback=broken)
    done = threading.Event()
    pool.apply_async(lambda: None, callback=lambda _: done.set())
    assert done.wait(WAIT_S)
    assert all(thread.is_alive() for thread in pool._threads)


class ObservedPool(ThreadPool):
    """Says when it has dropped the tasks that had not started."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dropped = threading.Event()

    def _drop_waiting(self) -> None:
        super()._drop_waiting()
        self.dropped.set()


def test_stopping_finishes_running_tasks_and_drops_waiting_ones() -> None:
    pool = ObservedPool(limit=1)
    pool.start()
    running = threading.Event()
    release = threading.Event()
    finished: list[str] = []

    def slow() -> str:
        running.set()
        assert release.wait(WAIT_S)
        return "slow"

    pool.apply_async(slow, callback=finished.append)
    assert running.wait(WAIT_S)
    pool.apply_async(lambda: "waiting", callback=finished.append)  # never starts: its message goes back
    stopper = threading.Thread(target=pool.stop)
    stopper.start()
    assert pool.dropped.wait(WAIT_S)
    release.set()
    stopper.join(WAIT_S)
    assert not stopper.is_alive()
    assert finished == ["slow"]
    assert pool._threads == []
