"""Rates from the console's own samples: depth changes and tasks finished per minute."""

from __future__ import annotations

from sendx_worker.console.queues import QueueDepths
from sendx_worker.console.sampler import Sample, Sampler
from sendx_worker.console.workers import WorkerView


def depths(ready: int, dead: int) -> QueueDepths:
    return QueueDepths("embedded", ready, 0, 0, None, dead)


def worker(name: str, processed: int | None) -> WorkerView:
    return WorkerView(name, None, 0, False, 0, 0, 0, processed)


def test_rates_are_per_minute_over_the_window_and_a_restarted_worker_counts_from_zero() -> None:
    script = [
        Sample(0, depths(100, 0), [worker("a", 10), worker("b", 5)]),
        Sample(30, depths(70, 1), [worker("a", 40), worker("b", 5)]),
        Sample(60, depths(40, 2), [worker("a", 70), worker("b", 3)]),  # b restarted: 3 new
    ]
    clock = iter([s.at for s in script])
    sampler = Sampler(lambda: script.pop(0), interval_s=30, clock=lambda: next(clock))
    for _ in range(3):
        sampler.sample_now()
    minute = sampler.rates(60)
    assert minute.covered_s == 60
    assert minute.change_per_min == {"ready": -60.0, "dead_letters": 2.0, "in_flight": 0.0, "retry_waiting": 0.0}
    assert minute.processed_per_min == 63.0
    assert sampler.rates(30).change_per_min["ready"] == -60.0


def test_no_rates_before_two_samples_and_a_failing_sample_does_not_stop_the_sampler() -> None:
    def broken() -> Sample:
        raise ConnectionRefusedError("no broker")

    sampler = Sampler(broken, interval_s=10, clock=lambda: 5.0)
    sample = sampler.sample_now()
    assert (sample.queues, sample.queue_error) == (None, "ConnectionRefusedError")
    assert sampler.rates(60).processed_per_min is None
