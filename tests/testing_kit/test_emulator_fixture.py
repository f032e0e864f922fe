"""sendx_emulator: faults as methods, what SendX holds, what it received; misuse fails clearly."""

from __future__ import annotations

import argparse

import pytest
import requests

from sendx_worker.emulator.command import add_arguments
from sendx_worker.testing import EmulatorControls
from sendx_worker.testing.emulator import API_KEY, TEAM_ID
from tests.testing_kit.conftest import INNER_ARGS, failures, outcomes, squash


def _identify(emulator: EmulatorControls, email: str, timeout: float = 10, **fields: str) -> requests.Response:
    return requests.post(
        f"{emulator.base_url('v1')}/contact/identify",
        params={"team_id": TEAM_ID},
        headers={"api_key": API_KEY},
        json={"email": email, **fields},
        timeout=timeout,
    )


def test_fail_next_answers_the_next_requests_then_sendx_applies_again(sendx_emulator: EmulatorControls) -> None:
    sendx_emulator.fail_next(2, status=503)
    sendx_emulator.fail_next(1, status=429, retry_after=7)  # adds up with the first
    answers = [_identify(sendx_emulator, "ada@example.com", firstName="Ada") for _ in range(4)]
    assert [r.status_code for r in answers] == [503, 503, 429, 200]
    assert answers[2].headers["Retry-After"] == "7"
    assert [entry["status"] for entry in sendx_emulator.requests] == [503, 503, 429, 200]
    assert sendx_emulator.contact("ada@example.com")["firstName"] == "Ada"  # type: ignore[index]


def test_a_fault_for_one_email_leaves_the_others_alone(sendx_emulator: EmulatorControls) -> None:
    sendx_emulator.fail_next(1, status=422, email="bob@example.com")
    assert _identify(sendx_emulator, "ada@example.com").status_code == 200
    assert _identify(sendx_emulator, "bob@example.com").status_code == 422
    assert _identify(sendx_emulator, "bob@example.com").status_code == 200
    assert [e["status"] for e in sendx_emulator.requests_for("bob@example.com")] == [422, 200]
    assert sorted(sendx_emulator.contacts) == ["ada@example.com", "bob@example.com"]


def test_timeout_next_leaves_a_request_unanswered_past_the_clients_timeout(sendx_emulator: EmulatorControls) -> None:
    sendx_emulator.timeout_next()
    with pytest.raises(requests.ReadTimeout):
        _identify(sendx_emulator, "ada@example.com", timeout=0.5)
    assert _identify(sendx_emulator, "ada@example.com").status_code == 200


def test_reset_next_drops_the_connection(sendx_emulator: EmulatorControls) -> None:
    sendx_emulator.reset_next()
    with pytest.raises(requests.ConnectionError):
        _identify(sendx_emulator, "ada@example.com")
    assert _identify(sendx_emulator, "ada@example.com").status_code == 200


def test_outage_refuses_connections_until_it_ends(sendx_emulator: EmulatorControls) -> None:
    with sendx_emulator.outage(), pytest.raises(requests.ConnectionError):
        _identify(sendx_emulator, "ada@example.com")
    assert _identify(sendx_emulator, "ada@example.com").status_code == 200
    sendx_emulator.outage("reset")
    with pytest.raises(requests.ConnectionError):
        _identify(sendx_emulator, "ada@example.com")
    sendx_emulator.end_outage()
    assert _identify(sendx_emulator, "ada@example.com").status_code == 200


def test_heal_clears_every_fault(sendx_emulator: EmulatorControls) -> None:
    sendx_emulator.latency(5)
    sendx_emulator.fail_next(3)
    sendx_emulator.outage("reset")
    sendx_emulator.rate_limit(0.01, burst=1)
    sendx_emulator.heal()
    faults = sendx_emulator.emulator.faults()
    assert (faults["latency_ms"], faults["outage"], faults["script"], faults["rate_limit"]) == (0, None, {}, None)
    assert [_identify(sendx_emulator, "ada@example.com").status_code for _ in range(3)] == [200, 200, 200]


def test_latency_is_the_emulators_own(sendx_emulator: EmulatorControls) -> None:
    sendx_emulator.latency(25)
    assert sendx_emulator.emulator.faults()["latency_ms"] == 25


def test_the_emulator_the_kit_ships_has_a_rate_limit() -> None:
    # RateLimitUnsupported is for an emulator without a token bucket; this one has it.
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert any("--rate-limit" in action.option_strings for action in parser._actions)


def test_rate_limit_answers_429_with_retry_after_past_the_burst_and_applies_nothing(
    sendx_emulator: EmulatorControls,
) -> None:
    sendx_emulator.rate_limit(0.01, burst=2)  # two at once, the next in ~100 s: no timing involved
    answers = [_identify(sendx_emulator, f"user{n}@example.com", firstName="A") for n in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 429, 429]
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert sendx_emulator.contact("user2@example.com") is None
    assert sendx_emulator.emulator.stats()["rate_limited"] == 2
    sendx_emulator.rate_limit(None)
    assert _identify(sendx_emulator, "user2@example.com").status_code == 200


def test_rate_limit_takes_n_per_second_and_the_default_burst_is_one_seconds_worth(
    sendx_emulator: EmulatorControls,
) -> None:
    sendx_emulator.rate_limit("0.01/s")
    faults = sendx_emulator.emulator.faults()
    assert (faults["rate_limit"], faults["rate_limit_burst"]) == (0.01, None)
    assert [_identify(sendx_emulator, "ada@example.com").status_code for _ in range(2)] == [200, 429]


def test_a_bad_rate_limit_names_the_setting(sendx_emulator: EmulatorControls) -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        sendx_emulator.rate_limit(0)
    with pytest.raises(ValueError, match="rate_limit_burst"):
        sendx_emulator.rate_limit(10, burst=0)


USER_TESTS = """
def test_zero_failures(sendx_emulator):
    sendx_emulator.fail_next(0)


def test_an_unknown_outage(sendx_emulator):
    sendx_emulator.outage("flood")


def test_a_status_that_is_not_one(sendx_emulator):
    sendx_emulator.fail_next(1, status=99)
"""


def test_misuse_fails_with_a_message_naming_the_argument(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.inline_run(*INNER_ARGS)
    assert set(outcomes(result).values()) == {"failed"}
    text = {name: squash(message) for name, message in failures(result).items()}
    assert "ValueError: n must be a whole number of at least 1, not 0" in text["test_zero_failures"]
    assert "ValueError: outage: must be null, 'refuse' or 'reset'" in text["test_an_unknown_outage"]
    assert "ValueError: script: 99 is not a step" in text["test_a_status_that_is_not_one"]
