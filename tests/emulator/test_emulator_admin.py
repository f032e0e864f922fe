"""The admin API and the Python API around it: request log, counters, contacts, teams, reset."""

from __future__ import annotations

from collections.abc import Callable

import requests

from sendx_worker.emulator import Emulator

Call = Callable[..., requests.Response]
KEY = "key-1"  # the emu fixture's key for team-1 (conftest.py)
JOHN = "john@example.com"


def test_the_request_log_records_each_api_request_in_full(emu: Emulator, identify: Call) -> None:
    identify({"email": JOHN}, key="wrong-key")
    (entry,) = emu.requests()
    assert entry["method"] == "POST"
    assert entry["path"] == "/api/v1/contact/identify"
    assert entry["query"] == {"team_id": "team-1"}
    assert entry["headers"]["api_key"] == "wrong-key"
    assert entry["body"] == {"email": JOHN}
    assert entry["status"] == 401
    assert isinstance(entry["timestamp"], float)


def test_admin_requests_are_not_logged_and_the_admin_log_matches_python(
    emu: Emulator, identify: Call, session: requests.Session
) -> None:
    identify({"email": JOHN})
    session.get(f"{emu.url}/_emulator/stats", timeout=5)
    logged = session.get(f"{emu.url}/_emulator/requests", timeout=5).json()
    assert [entry["path"] for entry in logged] == ["/api/v1/contact/identify"]
    assert logged == emu.requests()


def test_stats_count_every_request_by_status(emu: Emulator, identify: Call, session: requests.Session) -> None:
    identify({"email": JOHN})
    identify({"email": JOHN})
    identify({"email": "bad"})
    stats = session.get(f"{emu.url}/_emulator/stats", timeout=5).json()
    assert stats["requests"] == 3
    assert stats["by_status"] == {"200": 2, "422": 1}
    assert stats["first_at"] <= stats["last_at"]
    assert stats == emu.stats()


def test_the_request_log_keeps_only_the_newest_entries_but_counts_all() -> None:
    with Emulator(teams={"team-1": KEY}, log_size=3) as emu, requests.Session() as session:
        for number in range(5):
            session.post(
                f"{emu.base_url('rest')}/contact/identify",
                json={"email": f"user{number}@example.com"},
                headers={"X-Team-ApiKey": KEY},
                timeout=5,
            )
        assert [entry["body"]["email"] for entry in emu.requests()] == [f"user{n}@example.com" for n in (2, 3, 4)]
        assert emu.stats()["requests"] == 5


def test_the_admin_contacts_endpoint_answers_the_contact_or_404(
    emu: Emulator, identify: Call, session: requests.Session
) -> None:
    identify({"email": "j+tag@example.com", "firstName": "John"})
    found = session.get(f"{emu.url}/_emulator/contacts/j%2Btag@example.com", timeout=5)
    assert (found.status_code, found.json()["firstName"]) == (200, "John")
    other_team = session.get(f"{emu.url}/_emulator/contacts/j%2Btag@example.com?team_id=team-2", timeout=5)
    assert other_team.status_code == 404


def test_replacing_the_teams_changes_which_keys_are_accepted(
    emu: Emulator, identify: Call, session: requests.Session
) -> None:
    replaced = session.put(f"{emu.url}/_emulator/teams", json={"team-1": "new-key"}, timeout=5)
    assert replaced.status_code == 200
    assert identify({"email": JOHN}).status_code == 401
    assert identify({"email": JOHN}, key="new-key").status_code == 200
    emu.set_teams({"team-1": KEY})
    assert identify({"email": JOHN}).status_code == 200


def test_reset_forgets_contacts_and_the_log(emu: Emulator, identify: Call, session: requests.Session) -> None:
    identify({"email": JOHN})
    assert session.post(f"{emu.url}/_emulator/reset", timeout=5).status_code == 200
    assert emu.contact(JOHN) is None
    assert emu.requests() == []
    assert emu.stats()["requests"] == 0
