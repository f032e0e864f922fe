"""The breaker's pure rules and the AIMD limit, as numbers (no clock, no store)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sendx_worker.flow.circuit import CLOSED, JITTER, Circuit, FailureWindow, open_interval, probe_failed, tripped
from sendx_worker.flow.concurrency import Aimd
from sendx_worker.flow.concurrency.aimd import DEFAULT_COOLDOWN_S


def test_the_open_interval_doubles_from_open_s_to_open_max_s_without_jitter() -> None:
    intervals = [open_interval(n, open_s=30, open_max_s=300, jitter=0) for n in range(1, 8)]
    assert intervals == [30, 60, 120, 240, 300, 300, 300]


@given(opens=st.integers(0, 10_000), jitter=st.floats(0, 1), open_s=st.floats(0.01, 100), more=st.floats(1, 100))
def test_an_open_interval_stays_within_its_bounds(opens: int, jitter: float, open_s: float, more: float) -> None:
    open_max_s = open_s * more
    interval = open_interval(opens, open_s=open_s, open_max_s=open_max_s, jitter=jitter)
    assert (1 - JITTER) * open_s - 1e-9 <= interval <= open_max_s + 1e-9


def test_a_failed_probe_keeps_when_the_circuit_opened_and_waits_longer() -> None:
    first = tripped(100.0, open_s=30, open_max_s=300, jitter=0)
    assert first == Circuit("open", since=100.0, retry_at=130.0, opens=1, reason="transient")
    second = probe_failed(first, 131.0, open_s=30, open_max_s=300, jitter=0)
    assert (second.since, second.retry_at, second.opens) == (100.0, 191.0, 2)


@given(
    st.builds(
        Circuit,
        st.sampled_from(["closed", "open"]),
        st.floats(0, 1e10),
        st.floats(0, 1e10),
        st.integers(0, 100),
        st.text(max_size=10),
    )
)
def test_a_circuit_survives_its_round_trip_through_the_store(circuit: Circuit) -> None:
    assert Circuit.decode(circuit.encode()) == circuit


@given(st.text(max_size=50) | st.none())
def test_unreadable_store_text_is_a_closed_circuit(raw: str | None) -> None:
    decoded = Circuit.decode(raw)
    assert decoded == CLOSED or raw is not None


def test_ten_failures_in_a_row_trip_and_a_success_between_resets_the_run() -> None:
    window = FailureWindow(10)
    assert not any(window.record(False) for _ in range(9))
    assert not window.record(True)
    assert not any(window.record(False) for _ in range(9))
    assert window.record(False)


def test_a_high_failure_rate_trips_only_with_enough_calls() -> None:
    window = FailureWindow(10, window=40, min_calls=20)
    results = []
    for _ in range(12):
        results.append(window.record(True))
        results.append(window.record(False))
    # 24 calls, half failed, never more than one failure in a row: the rate rule trips from call 20 on.
    assert results.index(True) == 19


@given(st.lists(st.booleans(), max_size=200))
def test_the_failure_window_never_trips_on_a_success(calls: list[bool]) -> None:
    window = FailureWindow(10)
    for ok in calls:
        tripped_now = window.record(ok)
        assert not (ok and tripped_now)


def test_aimd_slow_starts_after_a_restart_then_halves_on_a_cut() -> None:
    aimd = Aimd(ceiling=64)
    assert aimd.slots == 2  # a process starts low too: into an outage it sends a few calls, not 64
    for _ in range(62):
        aimd.succeeded()
    assert aimd.slots == 64
    aimd.restart()
    assert aimd.slots == 2
    for _ in range(30):
        aimd.succeeded()
    assert aimd.slots == 32  # +1 per success below the threshold
    assert aimd.cut(now=10.0)
    assert aimd.slots == 16
    assert not aimd.cut(now=10.0 + DEFAULT_COOLDOWN_S / 2)  # the same push, reported by calls already in flight
    for _ in range(16):
        aimd.succeeded()
    assert aimd.slots == 16  # +1/limit per success past the threshold: one more after a full round
    aimd.succeeded()
    assert aimd.slots == 17


@given(st.lists(st.sampled_from(["ok", "cut", "restart"]), max_size=300), st.integers(1, 256))
def test_aimd_stays_within_floor_and_ceiling(events: list[str], ceiling: int) -> None:
    aimd = Aimd(ceiling=ceiling)
    for now, event in enumerate(events):
        if event == "ok":
            aimd.succeeded()
        elif event == "cut":
            aimd.cut(now=float(now * 2))
        else:
            aimd.restart()
        assert 1 <= aimd.slots <= ceiling
