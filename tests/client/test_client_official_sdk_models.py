"""Every rest body the client sends survives a strict round trip through SendX's official SDK models.

The bodies are taken from the emulator's request log after real calls, so this
checks what went over the wire, not what we meant to send.
"""

from __future__ import annotations

from typing import Any

import pytest
from sendx_stub_server import API_KEY

from sendx_worker.client import SendxClient
from sendx_worker.settings import Credentials

models = pytest.importorskip("sendx_python_sdk.models")

RICH_IDENTIFY = {
    "email": "john@example.com",
    "newEmail": "john.doe@example.com",
    "firstName": "John",
    "lastName": "Doe",
    "company": "Acme Inc.",
    "birthday": "1989-03-03",  # not in the REST API: the client must leave it out
    "customFields": {"Designation": "Engineer", "Age": "29", "Logins": "++1", "Ünïcode": "✓"},
    "tags": ["Developer", "paid user", "Zoë's list"],
}
TRACK = {"email": "john.doe@example.com", "addTags": ["paid user", "vip"], "removeTags": ["trial user"]}


@pytest.fixture
def sent_bodies(emulator: Any) -> dict[str, Any]:
    """The bodies of real rest calls (identify, rich identify, track), from the emulator's log."""
    client = SendxClient(base_url=emulator.base_url("rest"), flavor="rest", credentials=Credentials(api_key=API_KEY))
    client.identify({"email": "john@example.com"})
    client.identify(RICH_IDENTIFY)
    client.track(TRACK)
    log = emulator.requests()
    assert [entry["status"] for entry in log] == [200, 200, 200], "SendX (the emulator) accepted every call"
    return {"identify": log[0]["body"], "rich_identify": log[1]["body"], "track": log[2]["body"]}


def round_trip(model: Any, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = model.from_dict(body).to_dict()
    return result


@pytest.mark.parametrize("name", ["identify", "rich_identify"])
def test_identify_bodies_round_trip_through_the_sdk_identify_request(sent_bodies: dict[str, Any], name: str) -> None:
    body = sent_bodies[name]
    assert round_trip(models.IdentifyRequest, body) == body


def test_the_rich_identify_body_carries_every_rest_field(sent_bodies: dict[str, Any]) -> None:
    expected = {key: value for key, value in RICH_IDENTIFY.items() if key != "birthday"}
    assert sent_bodies["rich_identify"] == expected


def test_the_track_body_round_trips_through_the_sdk_track_request(sent_bodies: dict[str, Any]) -> None:
    body = sent_bodies["track"]
    assert body == TRACK
    assert round_trip(models.TrackRequest, body) == body


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@b.io", "birthday": "1989-03-03"},
        {"email": "a@b.io", "first_name": "snake case"},
        {"email": "a@b.io", "customFields": {"Age": "29"}, "extra": 1},
    ],
)
def test_the_round_trip_catches_a_field_the_rest_api_does_not_define(body: dict[str, Any]) -> None:
    assert round_trip(models.IdentifyRequest, body) != body


def test_the_sdk_refuses_a_number_where_the_rest_api_wants_a_string() -> None:
    with pytest.raises(ValueError, match="customFields"):
        models.IdentifyRequest.from_dict({"email": "a@b.io", "customFields": {"Age": 29}})
