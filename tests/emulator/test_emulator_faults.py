"""Fault injection: each fault does what it says, deterministically, over real HTTP."""

from __future__ import annotations

import http.client
import random
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from sendx_worker.emulator import Emulator

Call = Callable[..., requests.Response]
Stored = Callable[..., dict[str, Any]]
KEY = "key-1"  # the emu fixture's key for team-1 (conftest.py)
JOHN, JANE = "john@example.com", "jane@example.com"


def timed(call: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
    """The response and the seconds it took."""
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


def test_latency_delays_every_api_answer_by_at_least_the_configured_time(emu: Emulator, identify: Call) -> None:
    emu.set_faults(latency_ms=150)
    accepted, accepted_s = timed(lambda: identify({"email": JOHN}))
    refused, refused_s = timed(lambda: identify({"email": JOHN}, key="wrong-key"))
    assert (accepted.status_code, refused.status_code) == (200, 401)
    assert accepted_s >= 0.150
    assert refused_s >= 0.150


def test_the_admin_endpoint_changes_only_the_fault_keys_it_is_given(
    emu: Emulator, identify: Call, session: requests.Session
) -> None:
    emu.set_faults(error_status=502)
    updated = session.post(f"{emu.url}/_emulator/faults", json={"latency_ms": 120}, timeout=5)
    assert updated.status_code == 200
    assert (updated.json()["latency_ms"], updated.json()["error_status"]) == (120, 502)
    assert session.get(f"{emu.url}/_emulator/faults", timeout=5).json() == emu.faults()
    _, elapsed = timed(lambda: identify({"email": JOHN}))
    assert elapsed >= 0.120


def test_an_error_rate_with_a_seed_fails_an_exact_reproducible_set_of_requests(emu: Emulator, identify: Call) -> None:
    emu.set_faults(error_rate=0.25, error_status=500, seed=7)
    statuses = [identify({"email": f"user{n}@example.com"}).status_code for n in range(100)]
    draws = random.Random(7)  # the documented rule: one draw per request, error if below the rate
    expected = [500 if draws.random() < 0.25 else 200 for _ in range(100)]
    assert statuses == expected
    assert 0 < statuses.count(500) < 100
    failed = {entry["body"]["email"] for entry in emu.requests() if entry["status"] == 500}
    assert not any(emu.contact(email) for email in failed)


def test_throttling_answers_429_with_retry_after_and_applies_nothing(emu: Emulator, identify: Call) -> None:
    emu.set_faults(throttle_rate=1.0, retry_after=7)
    answer = identify({"email": JOHN})
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "7")
    assert answer.json()["status"] == "error"
    assert emu.contact(JOHN) is None


def test_a_timeout_rate_answers_504_only_after_slow_s_and_applies_nothing(emu: Emulator, identify: Call) -> None:
    emu.set_faults(timeout_rate=1.0, slow_s=0.2)
    answer, elapsed = timed(lambda: identify({"email": JOHN}))
    assert answer.status_code == 504
    assert elapsed >= 0.2
    assert emu.contact(JOHN) is None


def test_script_steps_are_consumed_in_order_for_their_email_only(emu: Emulator, identify: Call) -> None:
    emu.set_faults(script={JOHN: [503, 429, 500]})
    john = [identify({"email": JOHN}).status_code for _ in range(2)]
    assert emu.faults()["script"] == {JOHN: [500]}
    assert identify({"email": JANE}).status_code == 200
    john += [identify({"email": JOHN}).status_code for _ in range(2)]
    assert john == [503, 429, 500, 200]
    assert emu.faults()["script"] == {}
    assert [entry["status"] for entry in emu.requests()] == [503, 429, 200, 500, 200]


def test_the_script_of_any_email_serves_requests_whose_email_has_no_steps_of_its_own(
    emu: Emulator, identify: Call
) -> None:
    emu.set_faults(script={"*": [503, 502], JANE: [429]})
    assert identify({"email": JANE}).status_code == 429  # its own step first
    assert [identify({"email": email}).status_code for email in (JOHN, JANE, JOHN)] == [503, 502, 200]
    assert emu.faults()["script"] == {}


def test_a_v1_track_follows_the_script_of_the_email_in_its_query(
    emu: Emulator, identify: Call, track: Call, stored: Stored
) -> None:
    identify({"email": JOHN})
    emu.set_faults(script={JOHN: [503]})
    assert track(JOHN, ["paid user"]).status_code == 503
    assert stored(JOHN)["tags"] == []
    assert track(JOHN, ["paid user"]).status_code == 200


def test_a_step_with_apply_applies_the_change_then_answers_its_status(
    emu: Emulator, identify: Call, stored: Stored
) -> None:
    emu.set_faults(script={JOHN: [{"status": 500, "apply": True}]})
    lost = identify({"email": JOHN, "customFields": {"Logins": "++1"}})
    retried = identify({"email": JOHN, "customFields": {"Logins": "++1"}})
    assert (lost.status_code, retried.status_code) == (500, 200)
    assert stored(JOHN)["customFields"] == {"Logins": "2"}


def test_a_scripted_2xx_is_processed_normally_and_answered_with_that_status(
    emu: Emulator, identify: Call, stored: Stored
) -> None:
    emu.set_faults(script={JOHN: [201]})
    answer = identify({"email": JOHN, "firstName": "John"}, flavor="rest")
    assert answer.status_code == 201
    assert stored(JOHN)["firstName"] == "John"


def test_scripted_429s_carry_the_configured_or_their_own_retry_after(emu: Emulator, identify: Call) -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    emu.set_faults(retry_after=3, script={JOHN: [429, {"status": 429, "retry_after": date}, {"status": 503}]})
    answers = [identify({"email": JOHN}) for _ in range(3)]
    assert [(a.status_code, a.headers.get("Retry-After")) for a in answers] == [(429, "3"), (429, date), (503, None)]


def test_a_timeout_step_makes_a_client_with_a_short_timeout_time_out(emu: Emulator, identify: Call) -> None:
    emu.set_faults(script={JOHN: ["timeout"]}, slow_s=10)
    with pytest.raises(requests.Timeout):
        identify({"email": JOHN}, timeout=0.3)
    assert emu.contact(JOHN) is None
    assert emu.requests()[-1]["status"] == 504
    assert identify({"email": JOHN}).status_code == 200


def test_a_reset_step_drops_the_connection_without_an_answer(emu: Emulator, identify: Call) -> None:
    emu.set_faults(script={JOHN: ["reset"]})
    with pytest.raises(requests.ConnectionError):
        identify({"email": JOHN})
    assert emu.contact(JOHN) is None
    assert emu.requests()[-1]["status"] is None
    assert emu.stats()["by_status"] == {"reset": 1}
    assert identify({"email": JOHN}).status_code == 200


def test_an_outage_refuse_refuses_connections_then_recovers_on_the_same_port(emu: Emulator, identify: Call) -> None:
    port = emu.port
    kept = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    kept.request("GET", "/_emulator/stats")
    kept.getresponse().read()
    emu.set_faults(outage="refuse")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    with pytest.raises(ConnectionError):  # a keep-alive connection opened before is dropped too
        kept.request("GET", "/_emulator/stats")
        kept.getresponse()
    kept.close()
    emu.set_faults(outage=None)
    assert emu.port == port
    assert identify({"email": JOHN}).status_code == 200


def test_an_outage_started_through_the_admin_endpoint_still_answers_that_request(emu: Emulator) -> None:
    started = requests.post(f"{emu.url}/_emulator/faults", json={"outage": "refuse"}, timeout=5)
    assert (started.status_code, started.json()["outage"]) == (200, "refuse")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", emu.port), timeout=5).close()
    emu.set_faults(outage=None)
    assert requests.get(f"{emu.url}/_emulator/stats", timeout=5).status_code == 200


def test_an_outage_reset_resets_api_connections_while_admin_paths_keep_working(
    emu: Emulator, identify: Call, session: requests.Session
) -> None:
    emu.set_faults(outage="reset")
    with pytest.raises(requests.ConnectionError):
        identify({"email": JOHN})
    assert session.get(f"{emu.url}/_emulator/stats", timeout=5).json()["by_status"] == {"reset": 1}
    assert session.post(f"{emu.url}/_emulator/faults", json={"outage": None}, timeout=5).status_code == 200
    assert identify({"email": JOHN}).status_code == 200


@pytest.mark.parametrize(
    "changes",
    [
        {"colour": "red"},
        {"error_rate": 1.5},
        {"error_rate": 0.6, "throttle_rate": 0.6},
        {"latency_ms": -1},
        {"error_status": 200},
        {"outage": "flood"},
        {"script": {JOHN: ["explode"]}},
        {"script": {JOHN: [{"status": 500, "apply": "yes"}]}},
        {"script": {JOHN: 503}},
    ],
)
def test_a_bad_fault_setting_is_refused_and_changes_nothing(
    emu: Emulator, session: requests.Session, changes: dict[str, object]
) -> None:
    before = emu.faults()
    with pytest.raises(ValueError):
        emu.set_faults(**changes)
    assert session.post(f"{emu.url}/_emulator/faults", json=changes, timeout=5).status_code == 400
    assert emu.faults() == before


def test_reset_restores_the_faults_given_at_construction() -> None:
    with Emulator(teams={"team-1": KEY}, latency_ms=5, script={JOHN: [503]}) as emu:
        emu.set_faults(error_rate=1.0, latency_ms=0, script={JOHN: []})
        emu.reset()
        faults = emu.faults()
        assert (faults["error_rate"], faults["latency_ms"], faults["script"]) == (0, 5, {JOHN: [503]})
