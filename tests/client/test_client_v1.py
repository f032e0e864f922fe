"""The v1 flavor against the emulator over real HTTP: what arrives, and what SendX then holds."""

from __future__ import annotations

from typing import Any

import pytest
from sendx_stub_server import API_KEY, TEAM_ID

import sendx_worker
from sendx_worker.client import Contact, SendxClient
from sendx_worker.errors import AuthError, Rejected
from sendx_worker.settings import Credentials

JOHN = {
    "email": "john@example.com",
    "firstName": "John",
    "lastName": "Doe",
    "company": "Acme",
    "birthday": "1989-03-03",
    "customFields": {"Designation": "Engineer", "Logins": "3"},
    "tags": ["Developer"],
}


@pytest.fixture
def client(emulator: Any) -> SendxClient:
    credentials = Credentials(api_key=API_KEY, team_id=TEAM_ID)
    return SendxClient(base_url=emulator.base_url("v1"), flavor="v1", credentials=credentials, timeout_s=5)


def test_identify_posts_the_body_as_given_with_the_key_header_and_the_team_in_the_query(
    emulator: Any, client: SendxClient
) -> None:
    client.identify(JOHN)
    [request] = emulator.requests()
    assert (request["method"], request["path"], request["status"]) == ("POST", "/api/v1/contact/identify", 200)
    assert request["query"] == {"team_id": TEAM_ID}
    assert request["body"] == JOHN
    headers = request["headers"]
    assert headers["api_key"] == API_KEY
    assert "X-Team-ApiKey" not in headers
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == f"sendx-worker/{sendx_worker.__version__}"


def test_identify_returns_the_contact_sendx_answered_with(emulator: Any, client: SendxClient) -> None:
    result = client.identify(JOHN)
    stored = emulator.contact("john@example.com")
    assert result.status == 200
    assert result.contact == Contact(
        email="john@example.com",
        first_name="John",
        last_name="Doe",
        company="Acme",
        birthday="1989-03-03",
        tags=("Developer",),
        custom_fields={"Designation": "Engineer", "Logins": "3"},
        encrypted_id=stored["encryptedId"],
    )


def test_track_moves_the_email_to_the_query_and_sends_only_the_tags(emulator: Any, client: SendxClient) -> None:
    client.identify(JOHN)
    result = client.track({"email": "john@example.com", "addTags": ["paid user"], "removeTags": ["Developer"]})
    request = emulator.requests()[-1]
    assert result.status == 200
    assert request["path"] == "/api/v1/contact/track"
    assert request["query"] == {"team_id": TEAM_ID, "email": "john@example.com"}
    assert request["body"] == {"addTags": ["paid user"], "removeTags": ["Developer"]}
    assert emulator.contact("john@example.com")["tags"] == ["paid user"]


def test_calls_from_one_thread_reuse_one_kept_alive_connection(emulator: Any, client: SendxClient) -> None:
    for _ in range(5):
        client.identify({"email": "john@example.com"})
    pools = client._sessions.get().get_adapter(client.base_url).poolmanager.pools  # type: ignore[attr-defined]
    keys = list(pools.keys())
    assert len(keys) == 1, "one pool for the one host"
    assert pools[keys[0]].num_connections == 1, "one connection opened for five calls"
    assert len(emulator.requests()) == 5


def test_a_wrong_team_id_is_an_auth_error(emulator: Any) -> None:
    wrong = SendxClient(
        base_url=emulator.base_url("v1"), flavor="v1", credentials=Credentials(api_key=API_KEY, team_id="team-2")
    )
    with pytest.raises(AuthError) as caught:
        wrong.identify(JOHN)
    assert caught.value.status == 401
    assert emulator.contact("john@example.com") is None


def test_an_address_sendx_refuses_is_rejected_with_its_message(emulator: Any, client: SendxClient) -> None:
    with pytest.raises(Rejected) as caught:
        client.identify({"email": "not-an-address"})
    err = caught.value
    assert err.status == 422
    assert err.sendx_message and "email" in err.sendx_message
    assert err.body == {"status": "error", "message": err.sendx_message}
