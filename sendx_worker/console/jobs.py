"""Replaying every dead letter that matches a filter, as a paced job in the background.

The job works in bursts: it holds the dead-letter queue just long enough to read
it and replay a burst (``rate`` x the period), lets go, and waits until the
average is back at ``rate``. Holding the queue briefly matters: a look at the
queue while it is held finds it empty. The period is a second, stretched to ten
times a read of the queue when that is slow, so a large queue is read at most
10% of the time. Before every replay it asks the circuit breaker; an open
breaker stops the job with the rest left in place. Jobs live in the console's
process (a console mounted in several processes shows a job in the one that
runs it).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..deadletter import DeadLetterRecord
from ..deadletter.replay import is_replayable
from ..masking import mask_text
from .actions import Actions, log_action
from .breaker import BreakerStatus
from .records import Filter

__all__ = ["Job", "JobView", "Jobs"]

logger = logging.getLogger(__name__)

JobState = Literal["running", "finished", "stopped", "cancelled", "failed"]
MIN_PERIOD_S = 1.0
MAX_PERIOD_S = 60.0
#: Jobs kept for their pages after they end.
KEEP_JOBS = 20


class _Halt(Exception):
    """Raised inside a burst to stop before the next replay."""


@dataclass(frozen=True)
class JobView:
    """A job's progress, as its page shows it."""

    id: str
    who: str
    scope: str
    rate: float
    total: int
    done: int
    skipped: int
    state: JobState
    message: str
    started_at: float
    finished_at: float | None

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, 100 * self.done // self.total)


class Job:
    """One replay of everything matching a filter, at ``rate`` per second, in a thread."""

    def __init__(
        self,
        actions: Actions,
        wanted: Filter,
        rate: float,
        who: str,
        breaker: Callable[[], BreakerStatus],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.id = uuid.uuid4().hex[:12]
        self._actions = actions
        self._wanted = wanted
        self._rate = rate
        self._who = who
        self._breaker = breaker
        self._clock = clock
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._total = self._done = self._skipped = 0
        self._state: JobState = "running"
        self._message = ""
        self._started_at = clock()
        self._finished_at: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"sendx-console-replay-{self.id}", daemon=True)

    def start(self) -> Job:
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def view(self) -> JobView:
        with self._lock:
            return JobView(
                self.id,
                self._who,
                self._wanted.describe(),
                self._rate,
                self._total,
                self._done,
                self._skipped,
                self._state,
                self._message,
                self._started_at,
                self._finished_at,
            )

    def _run(self) -> None:
        book = self._actions.book
        book.forget()
        found = book.matching(self._wanted)
        with self._lock:
            self._total = sum(is_replayable(record) for record in found)
            self._skipped = len(found) - self._total
        replayed: list[DeadLetterRecord] = []
        attempted: set[str] = set()
        period = MIN_PERIOD_S
        try:
            while True:
                burst = max(1, int(self._rate * period))
                began = time.monotonic()
                chosen = self._burst(burst, attempted, replayed)
                period = min(MAX_PERIOD_S, max(MIN_PERIOD_S, 10 * (time.monotonic() - began)))
                if not chosen:
                    self._end("finished", "")
                    break
                # Back to the average: the next burst starts when `done` replays are due at `rate`.
                due = self._started_at + len(replayed) / self._rate
                if self._cancel.wait(max(0.0, due - self._clock())):
                    raise _Halt("cancelled")
        except _Halt as halt:
            cancelled = str(halt) == "cancelled"
            self._end("cancelled" if cancelled else "stopped", "" if cancelled else str(halt))
        except Exception as exc:
            logger.warning("console replay job %s failed", self.id, exc_info=True)
            self._end("failed", mask_text(f"{type(exc).__name__}: {exc}"))
        log_action("replay_matching", self._who, replayed, job=self.id, outcome=self.view().state)

    def _burst(self, size: int, attempted: set[str], replayed: list[DeadLetterRecord]) -> list[str]:
        now = self._clock()
        chosen: list[str] = []

        def wanted(record: DeadLetterRecord) -> bool:
            if len(chosen) >= size or record.id in attempted or not is_replayable(record):
                return False
            if not self._wanted.matches(record, now):
                return False
            chosen.append(record.id)
            attempted.add(record.id)
            return True

        def again(record: DeadLetterRecord) -> None:
            if self._cancel.is_set():
                raise _Halt("cancelled")
            if self._breaker().is_open:
                raise _Halt("the circuit breaker is open: SendX is failing; the rest stay dead-lettered")
            self._actions.send(record)
            replayed.append(record)
            with self._lock:
                self._done += 1

        self._actions.book.take(wanted, again)
        return chosen

    def _end(self, state: JobState, message: str) -> None:
        with self._lock:
            self._state = state
            self._message = message
            self._finished_at = self._clock()


class Jobs:
    """The replay jobs of one console; one runs at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def start(self, job: Job) -> Job | None:
        """Start ``job``, or return the job already running (and start nothing)."""
        with self._lock:
            running = next((j for j in self._jobs.values() if j.view().running), None)
            if running is not None:
                return running
            self._jobs[job.id] = job.start()
            while len(self._jobs) > KEEP_JOBS:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].view().running:
                    break
                del self._jobs[oldest]
            return None

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def views(self) -> list[JobView]:
        """Every job kept, newest first."""
        with self._lock:
            return [job.view() for job in reversed(self._jobs.values())]

    def cancel_all(self, timeout: float = 10) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel()
            job.join(timeout)
