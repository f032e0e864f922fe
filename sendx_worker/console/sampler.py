"""Samples taken in the console's process: the queues and the workers, every few seconds.

Neither AMQP nor Redis keeps rates, so the console keeps the last
:data:`HISTORY_S` of samples itself and derives them: how the depths changed and
how many sendx tasks the workers finished per minute (from the counters each
worker reports, so a restarted worker's counter starting over is no negative rate).
Samples live in this process only: a console that just started shows rates after
its first minute, and each process of a host app that mounts the console keeps
its own.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .queues import QueueDepths
from .workers import WorkerView

__all__ = ["HISTORY_S", "INTERVAL_S", "Rates", "Sample", "Sampler"]

logger = logging.getLogger(__name__)

INTERVAL_S = 10.0
HISTORY_S = 15 * 60.0
#: The windows the overview shows rates over, in seconds.
WINDOWS_S = (60.0, 300.0, 900.0)


@dataclass(frozen=True)
class Sample:
    """One look at the queues and the workers (either may have failed: its error is kept)."""

    at: float
    queues: QueueDepths | None
    workers: list[WorkerView] | None
    queue_error: str | None = None
    worker_error: str | None = None


@dataclass(frozen=True)
class Rates:
    """Per minute, over ``window_s`` (the span actually covered by samples, at most the window)."""

    window_s: float
    covered_s: float
    processed_per_min: float | None
    change_per_min: dict[str, float] = field(default_factory=dict)


class Sampler:
    """Takes a :class:`Sample` with ``take`` every ``interval_s`` in a daemon thread, started on first use."""

    def __init__(
        self,
        take: Callable[[], Sample],
        *,
        interval_s: float = INTERVAL_S,
        history_s: float = HISTORY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._take = take
        self.interval_s = interval_s
        self._clock = clock
        self._samples: deque[Sample] = deque(maxlen=max(2, int(history_s / interval_s) + 2))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start sampling (idempotent)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="sendx-console-sampler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        # A page that found no sample took one itself just before starting the thread.
        if self.latest() is not None:
            self._stop.wait(self.interval_s)
        while not self._stop.is_set():
            self.sample_now()
            self._stop.wait(self.interval_s)

    def sample_now(self) -> Sample:
        """Take a sample now and keep it."""
        try:
            sample = self._take()
        except Exception as exc:  # a sample must never kill the sampler
            logger.warning("console sample failed: %s", type(exc).__name__)
            sample = Sample(at=self._clock(), queues=None, workers=None, queue_error=type(exc).__name__)
        with self._lock:
            self._samples.append(sample)
        return sample

    def samples(self) -> list[Sample]:
        """The samples kept, oldest first."""
        with self._lock:
            return list(self._samples)

    def latest(self) -> Sample | None:
        with self._lock:
            return self._samples[-1] if self._samples else None

    def rates(self, window_s: float) -> Rates:
        """What changed over the last ``window_s`` seconds, per minute."""
        samples = [s for s in self.samples() if s.queues is not None or s.workers is not None]
        if len(samples) < 2:
            return Rates(window_s, 0.0, None)
        last = samples[-1]
        first = next(s for s in samples if s.at >= last.at - window_s - self.interval_s / 2)
        span = last.at - first.at
        if span <= 0:
            return Rates(window_s, 0.0, None)
        change: dict[str, float] = {}
        if first.queues is not None and last.queues is not None:
            before, after = first.queues.as_numbers(), last.queues.as_numbers()
            change = {name: (after[name] - before[name]) * 60 / span for name in after if name in before}
        return Rates(window_s, span, _processed_per_min(samples[samples.index(first) :], span), change)


def _processed_per_min(samples: list[Sample], span: float) -> float | None:
    """Tasks finished per minute: each worker's counter increments, summed over consecutive samples."""
    total = 0
    seen = False
    for earlier, later in itertools.pairwise(samples):
        if earlier.workers is None or later.workers is None:
            continue
        before = {w.name: w.processed for w in earlier.workers if w.processed is not None}
        for worker in later.workers:
            if worker.processed is None or worker.name not in before:
                continue
            seen = True
            previous = before[worker.name] or 0
            # A restarted worker counts from 0 again: its new count is all new work.
            total += worker.processed - previous if worker.processed >= previous else worker.processed
    return total * 60 / span if seen else None
