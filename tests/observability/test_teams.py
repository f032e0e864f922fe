"""Several SendX teams: the ``team`` kwarg picks credentials from SENDX_TEAMS, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sendx_worker import identify, track
from sendx_worker.celery_app import create_app
from sendx_worker.settings import load_settings
from tests.delivery.conftest import Stack
from tests.observability.conftest import API_KEY, EU_API_KEY, EU_TEAM_ID, TEAM_ID
from tests.support.waiting import wait_for

EU_TEAMS = {"eu": {"api_key": EU_API_KEY, "team_id": EU_TEAM_ID}}


def header(entry: dict[str, Any], name: str) -> str | None:
    """A request-log header, looked up case-insensitively."""
    return next((v for k, v in entry["headers"].items() if k.lower() == name.lower()), None)


def wait_contact_in(stack: Stack, email: str, team_id: str, **expected: Any) -> dict[str, Any]:
    def matches() -> dict[str, Any] | None:
        contact = stack.emulator.contact(email, team_id=team_id)
        return contact if contact and all(contact.get(k) == v for k, v in expected.items()) else None

    found: dict[str, Any] = wait_for(matches, timeout=60, what=f"{email} in {team_id} with {expected}")
    return found


def test_a_team_kwarg_delivers_with_that_teams_key_into_that_teams_store(stack: Stack) -> None:
    worker = stack.start_worker(SENDX_TEAMS=json.dumps(EU_TEAMS))
    identify("eva@example.com", first_name="Eva", team="eu", app=stack.app)
    identify("dora@example.com", first_name="Dora", app=stack.app)
    wait_contact_in(stack, "eva@example.com", EU_TEAM_ID, firstName="Eva")
    # Only now: a track that overtook the identify would find no contact yet.
    track("eva@example.com", add_tags=["EU"], team="eu", app=stack.app)

    wait_contact_in(stack, "eva@example.com", EU_TEAM_ID, firstName="Eva", tags=["EU"])
    wait_contact_in(stack, "dora@example.com", TEAM_ID, firstName="Dora")
    assert stack.emulator.contact("eva@example.com", team_id=TEAM_ID) is None
    assert stack.emulator.contact("dora@example.com", team_id=EU_TEAM_ID) is None

    eva = stack.api_requests("eva@example.com")
    assert [r["path"] for r in eva] == ["/api/v1/contact/identify", "/api/v1/contact/track"]
    assert {(header(r, "api_key"), r["query"].get("team_id"), r["status"]) for r in eva} == {
        (EU_API_KEY, EU_TEAM_ID, 200)
    }
    dora = stack.api_requests("dora@example.com")
    assert [(header(r, "api_key"), r["query"].get("team_id"), r["status"]) for r in dora] == [(API_KEY, TEAM_ID, 200)]
    assert EU_API_KEY not in worker.log()
    assert API_KEY not in worker.log()


def test_an_unknown_team_is_dead_lettered_as_invalid_payload_naming_the_team(stack: Stack) -> None:
    stack.start_worker(SENDX_TEAMS=json.dumps(EU_TEAMS))
    task_id = identify("max@example.com", first_name="Max", team="mars", app=stack.app).id
    identify("dora@example.com", first_name="Dora", app=stack.app)  # the worker carries on

    (record,) = stack.wait_dead_letters(1)
    assert record.reason == "invalid_payload"
    assert record.task_id == task_id
    assert record.team == "mars"
    assert "'mars'" in record.error
    assert "SENDX_TEAMS" in record.error
    assert record.payload == {"email": "max@example.com", "firstName": "Max"}
    assert EU_API_KEY not in json.dumps(record.to_dict())
    stack.wait_contact("dora@example.com", firstName="Dora")
    assert stack.api_requests("max@example.com") == []


def test_teams_read_from_a_file_work_with_the_rest_flavor(stack: Stack, tmp_path: Path) -> None:
    teams_file = tmp_path / "teams.json"
    teams_file.write_text(json.dumps(EU_TEAMS))
    rest = {
        "SENDX_API_FLAVOR": "rest",
        "SENDX_BASE_URL": stack.emulator.base_url("rest"),
        "SENDX_TEAMS": f"@{teams_file}",
    }
    stack.start_worker(**rest)
    producer = create_app(load_settings({**stack.env, **rest}))
    try:
        identify("eva@example.com", last_name="Ortiz", team="eu", app=producer)
        identify("dora@example.com", last_name="Diaz", app=producer)
    finally:
        producer.close()

    wait_contact_in(stack, "eva@example.com", EU_TEAM_ID, lastName="Ortiz")
    wait_contact_in(stack, "dora@example.com", TEAM_ID, lastName="Diaz")
    (eva,) = stack.api_requests("eva@example.com")
    (dora,) = stack.api_requests("dora@example.com")
    assert eva["path"] == dora["path"] == "/api/v1/rest/contact/identify"
    assert header(eva, "X-Team-ApiKey") == EU_API_KEY
    assert header(dora, "X-Team-ApiKey") == API_KEY
