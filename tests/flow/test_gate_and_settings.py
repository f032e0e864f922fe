"""One process's gate: its fallback when the store is gone, its rate bucket, and the flow settings."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from sendx_worker.errors import ConfigurationError, ConnectionFailed, RateLimited
from sendx_worker.flow.gate import FlowGate
from sendx_worker.flow.rate import TokenBucket
from sendx_worker.flow.settings import FlowSettings, load_flow_settings
from sendx_worker.flow.team import Permit
from sendx_worker.metrics import PrometheusObserver
from sendx_worker.state import open_store


def _refused() -> ConnectionFailed:
    return ConnectionFailed("connection refused", method="POST", path="/contact/identify")


def test_with_the_store_unreachable_a_per_process_breaker_opens_and_the_worker_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="sendx_worker.flow")
    gate = FlowGate(
        open_store("redis://127.0.0.1:1/0"), FlowSettings(failures=3, hold_s=0.01), timeout_s=1, pool_size=4
    )
    for _ in range(3):
        permit = gate.admit("eu")
        assert isinstance(permit, Permit)
        with permit:
            permit.record(_refused())
    assert gate.team("eu").circuit.is_open
    # Open: the next message is not let through; it is told to come back when the probe is due.
    assert 1.0 <= float(gate.admit("eu")) <= 30.0  # type: ignore[arg-type]
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("state store unreachable; a per-process circuit breaker stands in until it is back") == 1
    assert messages.count("circuit opened") == 1


def test_a_429_halves_the_limit_and_its_retry_after_holds_every_call_of_the_team() -> None:
    gate = FlowGate(open_store("memory://"), FlowSettings(hold_s=0.01), timeout_s=1, pool_size=64)
    flow = gate.team(None)
    before = flow.limiter.aimd.slots
    permit = gate.admit(None)
    assert isinstance(permit, Permit)
    with permit:
        permit.record(RateLimited("429", method="POST", path="/x", status=429, retry_after_s=30))
    assert flow.limiter.aimd.slots == before // 2
    assert 25 <= float(gate.admit(None)) <= 30  # type: ignore[arg-type]


def _throttled(retry_after_s: float | None) -> RateLimited:
    return RateLimited("429", method="POST", path="/x", status=429, retry_after_s=retry_after_s)


def test_429s_cut_the_limit_but_never_open_the_circuit_while_the_limit_can_still_fall() -> None:
    # Ten 429s in a row would trip the breaker if they counted: SendX metering is not SendX down.
    gate = FlowGate(open_store("memory://"), FlowSettings(failures=3, hold_s=0.01), timeout_s=1, pool_size=64)
    flow = gate.team(None)
    flow.limiter.aimd.limit = 64  # at full width: ten 429s arrive together, one cut answers them
    for _ in range(10):
        permit = gate.admit(None)
        assert isinstance(permit, Permit)
        with permit:
            permit.record(_throttled(1))
    assert not flow.circuit.is_open
    assert isinstance(gate.admit(None), Permit)  # a one-second Retry-After held no one


def test_429s_at_the_floor_of_the_limit_count_toward_the_breaker() -> None:
    gate = FlowGate(open_store("memory://"), FlowSettings(failures=3, hold_s=0.01), timeout_s=1, pool_size=1)
    flow = gate.team(None)
    flow.limiter.aimd.limit = flow.limiter.aimd.floor  # SendX refuses even one call at a time
    for _ in range(3):
        permit = gate.admit(None)
        assert isinstance(permit, Permit)
        with permit:
            permit.record(_throttled(None))
    assert flow.circuit.is_open


def test_the_token_bucket_paces_calls_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(10, clock=lambda: now[0])
    assert bucket.take() == 0  # one token in the bucket (a tenth of a second of calls)
    assert bucket.take() == pytest.approx(0.1)
    assert bucket.take() == pytest.approx(0.2)
    now[0] = 10.0
    assert bucket.take() == 0


def test_flow_settings_have_their_defaults_and_switch_off() -> None:
    assert load_flow_settings({}) == FlowSettings()
    assert load_flow_settings({"SENDX_FLOW_CONTROL": "off"}).enabled is False
    assert load_flow_settings({"SENDX_RATE_LIMIT": "200"}).rate_limit == 200.0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SENDX_FLOW_CONTROL", "maybe"),
        ("SENDX_BREAKER_OPEN_S", "0"),
        ("SENDX_BREAKER_OPEN_MAX_S", "nan"),
        ("SENDX_HOLD_S", "-1"),
        ("SENDX_MAX_CONCURRENCY", "0"),
        ("SENDX_BREAKER_FAILURES", "ten"),
        ("SENDX_RATE_LIMIT", "fast"),
    ],
)
def test_a_bad_flow_setting_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_flow_settings({variable: value})
    assert caught.value.variable == variable


def test_the_open_interval_cap_must_not_be_below_the_first_interval() -> None:
    with pytest.raises(ConfigurationError, match="SENDX_BREAKER_OPEN_MAX_S"):
        load_flow_settings({"SENDX_BREAKER_OPEN_S": "60", "SENDX_BREAKER_OPEN_MAX_S": "30"})


@given(st.dictionaries(st.sampled_from(["SENDX_HOLD_S", "SENDX_RATE_LIMIT", "SENDX_MAX_CONCURRENCY"]), st.text()))
def test_any_flow_setting_loads_or_fails_naming_a_variable(env: dict[str, str]) -> None:
    try:
        load_flow_settings(env)
    except ConfigurationError as exc:
        assert exc.variable in env


def test_a_successful_probe_closes_the_circuit_and_the_backlog_starts_from_two_calls_in_flight(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="sendx_worker.flow")
    registry = CollectorRegistry()
    gate = FlowGate(
        open_store("memory://"),
        FlowSettings(failures=2, open_s=0.01, open_max_s=0.01, hold_s=5),
        timeout_s=1,
        pool_size=64,
        observer=PrometheusObserver(registry),
    )
    for _ in range(2):
        permit = gate.admit(None)
        assert isinstance(permit, Permit) and permit.probe is None
        with permit:
            permit.record(_refused())
    assert registry.get_sample_value("sendx_circuit_open", {"team": ""}) == 1
    probe = gate.admit(None)  # held until the interval is over, then this process takes the half-open slot
    assert isinstance(probe, Permit) and probe.probe is not None
    with probe:
        probe.record(None)
    flow = gate.team(None)
    assert not flow.circuit.is_open
    assert flow.limiter.aimd.slots == 2
    assert registry.get_sample_value("sendx_circuit_open", {"team": ""}) == 0
    assert registry.get_sample_value("sendx_circuit_probes_total", {"team": "", "outcome": "succeeded"}) == 1
    assert [r.getMessage() for r in caplog.records] == ["circuit opened", "circuit closed"]
