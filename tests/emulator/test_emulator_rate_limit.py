"""The emulator's token-bucket rate limit: the bucket as numbers, then over real HTTP."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from sendx_worker.emulator import Emulator
from sendx_worker.emulator.bucket import TokenBucket, parse_rate, retry_after_header
from sendx_worker.emulator.command import add_arguments
from sendx_worker.emulator.faults import Faults

Call = Callable[..., requests.Response]


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- the bucket, pure


def test_a_full_bucket_accepts_its_burst_then_says_how_long_until_the_next_token() -> None:
    clock = Clock()
    bucket = TokenBucket(10, 3, clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.1)
    clock.now += 0.05
    assert bucket.take() == pytest.approx(0.05)
    clock.now += 0.05
    assert bucket.take() == 0.0


def test_the_default_burst_is_one_seconds_worth_and_at_least_one() -> None:
    assert TokenBucket(200, clock=Clock()).burst == 200
    slow = TokenBucket(0.5, clock=Clock())
    assert slow.burst == 1
    assert slow.take() == 0.0
    assert slow.take() == pytest.approx(2.0)


def test_a_refused_request_takes_no_token() -> None:
    clock = Clock()
    bucket = TokenBucket(1, 1, clock)
    assert bucket.take() == 0.0
    for _ in range(5):
        assert bucket.take() > 0
    clock.now += 1
    assert bucket.take() == 0.0


def test_a_clock_stepping_back_adds_no_tokens() -> None:
    clock = Clock()
    bucket = TokenBucket(1, 1, clock)
    bucket.take()
    clock.now -= 100
    assert bucket.take() == pytest.approx(1.0)
    clock.now += 100.5  # back where it was, plus half a second
    assert bucket.take() == pytest.approx(0.5)


@given(
    rate=st.floats(0.5, 500),
    burst=st.floats(1, 100),
    gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=300),
    window=st.floats(0, 5),
)
def test_no_window_of_t_seconds_ever_accepts_more_than_burst_plus_rate_times_t(
    rate: float, burst: float, gaps: list[float], window: float
) -> None:
    clock = Clock()
    bucket = TokenBucket(rate, burst, clock)
    accepted = []
    for gap in gaps:
        clock.now += gap
        if bucket.take() == 0.0:
            accepted.append(clock.now)
    for index, start in enumerate(accepted):
        inside = sum(1 for at in accepted[index:] if at - start <= window)
        assert inside <= burst + rate * window + 1e-6


@given(gaps=st.lists(st.floats(0, 0.2), min_size=1, max_size=200))
def test_a_refusal_names_a_wait_after_which_the_next_request_is_accepted(gaps: list[float]) -> None:
    clock = Clock()
    bucket = TokenBucket(20, 2, clock)
    for gap in gaps:
        clock.now += gap
        wait = bucket.take()
        if wait > 0:
            clock.now += wait + 1e-9
            assert bucket.take() == 0.0


@pytest.mark.parametrize(("wait", "header"), [(0.001, "1"), (1.0, "1"), (1.2, "2"), (29.5, "30")])
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(wait: float, header: str) -> None:
    assert retry_after_header(wait) == header


@pytest.mark.parametrize(("text", "rate"), [(200, 200.0), ("200", 200.0), ("200/s", 200.0), (" 0.5/S ", 0.5)])
def test_a_rate_is_a_number_or_n_per_second(text: Any, rate: float) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("bad", [0, -1, "fast", "200/m", True, float("inf"), [200], "nan"])
def test_a_bad_rate_is_refused_naming_the_key(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"^rate_limit: "):
        parse_rate(bad)


# ---------------------------------------------------------------- in the fault decision


def test_past_the_bucket_the_decision_is_a_429_that_consumes_no_scripted_step() -> None:
    clock = Clock()
    faults = Faults(clock=clock)
    faults.update({"rate_limit": 2, "rate_limit_burst": 1, "script": {"a@example.com": [503]}})
    assert faults.decide("a@example.com").status == 503
    refused = faults.decide("a@example.com")
    assert (refused.action, refused.status, refused.retry_after, refused.rate_limited) == ("fail", 429, "1", True)
    clock.now += 0.5
    assert faults.decide("a@example.com").action == "process"


def test_setting_the_rate_limit_refills_the_bucket_and_none_removes_it() -> None:
    clock = Clock()
    faults = Faults(clock=clock)
    faults.update({"rate_limit": "1/s"})
    assert faults.decide(None).action == "process"
    assert faults.decide(None).rate_limited
    faults.update({"rate_limit": 1})
    assert faults.decide(None).action == "process"
    faults.update({"rate_limit": None})
    assert all(faults.decide(None).action == "process" for _ in range(100))
    assert faults.as_json()["rate_limit"] is None


@pytest.mark.parametrize(
    ("changes", "key"),
    [({"rate_limit": 0}, "rate_limit"), ({"rate_limit": "x"}, "rate_limit"),
     ({"rate_limit_burst": 0.5}, "rate_limit_burst"), ({"rate_limit_burst": "10"}, "rate_limit_burst")],
)  # fmt: skip
def test_a_bad_rate_limit_setting_names_its_key_and_changes_nothing(changes: dict[str, Any], key: str) -> None:
    faults = Faults()
    before = faults.as_json()
    with pytest.raises(ValueError, match=rf"^{key}: "):
        faults.update(changes)
    assert faults.as_json() == before


# ---------------------------------------------------------------- over HTTP


def test_past_the_limit_the_emulator_answers_429_with_retry_after_applies_nothing_and_counts_it(
    emu: Emulator, identify: Call
) -> None:
    emu.set_faults(rate_limit=0.01, rate_limit_burst=2)  # two now, the next in ~100 s: no timing involved
    statuses = [identify({"email": f"user{n}@example.com", "firstName": "A"}).status_code for n in range(5)]
    assert statuses == [200, 200, 429, 429, 429]
    refused = identify({"email": "late@example.com"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 100
    assert emu.contact("user2@example.com") is None
    assert emu.contact("late@example.com") is None
    stats = emu.stats()
    assert (stats["requests"], stats["by_status"], stats["rate_limited"]) == (6, {"200": 2, "429": 4}, 4)


def test_the_admin_endpoint_sets_and_lifts_the_rate_limit(
    emu: Emulator, identify: Call, session: requests.Session
) -> None:
    answer = session.post(f"{emu.url}/_emulator/faults", json={"rate_limit": "0.01/s"}, timeout=5)
    assert (answer.status_code, answer.json()["rate_limit"], answer.json()["rate_limit_burst"]) == (200, 0.01, None)
    assert [identify({"email": "a@example.com"}).status_code for _ in range(2)] == [200, 429]
    session.post(f"{emu.url}/_emulator/faults", json={"rate_limit": None}, timeout=5).raise_for_status()
    assert identify({"email": "a@example.com"}).status_code == 200
    bad = session.post(f"{emu.url}/_emulator/faults", json={"rate_limit": -3}, timeout=5)
    assert bad.status_code == 400
    assert "rate_limit" in bad.text


def test_a_scripted_or_throttled_429_is_not_counted_as_rate_limited(emu: Emulator, identify: Call) -> None:
    emu.set_faults(script={"*": [429]})
    assert identify({"email": "a@example.com"}).status_code == 429
    assert (emu.stats()["by_status"], emu.stats()["rate_limited"]) == ({"429": 1}, 0)


def test_reset_restores_the_rate_limit_given_at_construction_with_a_full_bucket() -> None:
    with Emulator(rate_limit="0.01/s", rate_limit_burst=1) as emulator, requests.Session() as http:

        def call() -> int:
            url = f"{emulator.base_url('v1')}/contact/identify"
            answer = http.post(url, json={"email": "a@example.com"}, params={"team_id": "team-1"},
                               headers={"api_key": "test-key"}, timeout=5)  # fmt: skip
            return answer.status_code

        assert [call(), call()] == [200, 429]
        emulator.reset()
        assert emulator.stats()["rate_limited"] == 0
        assert [call(), call()] == [200, 429]


def test_the_command_takes_a_rate_as_n_or_n_per_second_and_a_burst() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).rate_limit is None
    args = parser.parse_args(["--rate-limit", "200/s", "--rate-limit-burst", "20"])
    assert (args.rate_limit, args.rate_limit_burst) == (200.0, 20.0)
    assert parser.parse_args(["--rate-limit", "50"]).rate_limit == 50.0
