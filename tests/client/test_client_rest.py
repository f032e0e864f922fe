"""The rest flavor against the emulator over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from sendx_stub_server import API_KEY

import sendx_worker
from sendx_worker.client import SendxClient
from sendx_worker.errors import AuthError, ContactNotFound
from sendx_worker.settings import Credentials


@pytest.fixture
def client(emulator: Any) -> SendxClient:
    return SendxClient(base_url=emulator.base_url("rest"), flavor="rest", credentials=Credentials(api_key=API_KEY))


def test_identify_posts_the_body_with_the_x_team_apikey_header_and_no_query(emulator: Any, client: SendxClient) -> None:
    payload = {"email": "jane@example.com", "firstName": "Jane", "tags": ["Tech"], "customFields": {"Age": "29"}}
    result = client.identify(payload)
    [request] = emulator.requests()
    assert (request["path"], request["status"], request["query"]) == ("/api/v1/rest/contact/identify", 200, {})
    assert request["body"] == payload
    headers = request["headers"]
    assert headers["X-Team-ApiKey"] == API_KEY
    assert "api_key" not in headers
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == f"sendx-worker/{sendx_worker.__version__}"
    assert result.status == 200
    assert result.contact is None, "the rest API answers without the contact"
    assert emulator.contact("jane@example.com")["customFields"] == {"Age": "29"}


def test_identify_leaves_out_the_birthday_so_sendx_accepts_the_rest_of_the_update(
    emulator: Any, client: SendxClient
) -> None:
    client.identify({"email": "jane@example.com", "company": "Acme", "birthday": "1990-01-01"})
    assert emulator.requests()[0]["body"] == {"email": "jane@example.com", "company": "Acme"}
    assert emulator.contact("jane@example.com")["company"] == "Acme"


def test_track_keeps_the_email_in_the_body(emulator: Any, client: SendxClient) -> None:
    client.identify({"email": "jane@example.com", "tags": ["trial user"]})
    result = client.track({"email": "jane@example.com", "addTags": ["paid user"], "removeTags": ["trial user"]})
    request = emulator.requests()[-1]
    assert result.status == 200
    assert (request["path"], request["query"]) == ("/api/v1/rest/contact/track", {})
    assert request["body"] == {"email": "jane@example.com", "addTags": ["paid user"], "removeTags": ["trial user"]}
    assert emulator.contact("jane@example.com")["tags"] == ["paid user"]


def test_track_on_a_contact_sendx_does_not_know_is_contact_not_found(client: SendxClient) -> None:
    with pytest.raises(ContactNotFound) as caught:
        client.track({"email": "nobody@example.com", "addTags": ["x"], "removeTags": []})
    err = caught.value
    assert (err.status, err.sendx_message, err.path) == (404, "contact not found", "/api/v1/rest/contact/track")
    assert err.may_have_reached_sendx is False


def test_a_rotated_key_is_an_auth_error_until_it_is_fixed(emulator: Any, client: SendxClient) -> None:
    emulator.set_teams({"team-1": "the-new-key"})
    with pytest.raises(AuthError) as caught:
        client.identify({"email": "jane@example.com"})
    assert caught.value.status == 401
    fixed = SendxClient(
        base_url=emulator.base_url("rest"), flavor="rest", credentials=Credentials(api_key="the-new-key")
    )
    assert fixed.identify({"email": "jane@example.com"}).status == 200
