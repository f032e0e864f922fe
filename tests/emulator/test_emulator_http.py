"""The emulator over real HTTP: SendX's answers, credentials, body checks and HTTP framing."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable
from typing import Any

import pytest
import requests

from sendx_worker.emulator import Emulator

Call = Callable[..., requests.Response]
Stored = Callable[..., dict[str, Any]]
KEY, OTHER_KEY = "key-1", "key-2"  # the emu fixture's teams (conftest.py): team-1 and team-2
JOHN = "john@example.com"


def test_the_seed_example_merges_two_identify_calls_into_one_contact(emu: Emulator, identify: Call) -> None:
    first = identify(
        {
            "email": JOHN,
            "firstName": "John",
            "birthday": "1989-03-03",
            "tags": ["Developer"],
            "customFields": {"Designation": "Engineer"},
        }
    )
    second = identify({"email": JOHN, "lastName": "Doe", "tags": ["Tech"], "customFields": {"Age": "29"}})
    assert (first.status_code, second.status_code) == (200, 200)
    contact = emu.contact(JOHN)
    assert contact is not None
    assert contact["tags"] == ["Developer", "Tech"]
    assert contact["customFields"] == {"Designation": "Engineer", "Age": "29"}
    assert (contact["firstName"], contact["lastName"], contact["birthday"]) == ("John", "Doe", "1989-03-03")
    assert second.json()["data"] == contact


def test_v1_identify_answers_the_contact_in_sendx_shape(identify: Call) -> None:
    answer = identify({"email": JOHN, "company": "ACME"}).json()
    assert (answer["status"], answer["message"]) == ("200", "OK")
    assert set(answer["data"]) == {
        "encryptedTeamId",
        "encryptedId",
        "tags",
        "firstName",
        "lastName",
        "email",
        "company",
        "birthday",
        "customFields",
    }
    assert (answer["data"]["email"], answer["data"]["company"]) == (JOHN, "ACME")


def test_v1_track_answers_data_success(identify: Call, track: Call) -> None:
    identify({"email": JOHN})
    assert track(JOHN, ["paid user"]).json() == {"status": "200", "message": "OK", "data": "success"}


def test_rest_identify_and_track_answer_status_200_ok_without_data(identify: Call, track: Call) -> None:
    assert identify({"email": JOHN}, flavor="rest").json() == {"status": "200", "message": "OK"}
    assert track(JOHN, ["paid user"], flavor="rest").json() == {"status": "200", "message": "OK"}


def custom_field(emu: Emulator, name: str) -> str:
    """John's custom field ``name``."""
    contact = emu.contact(JOHN)
    assert contact is not None
    return str(contact["customFields"][name])


def test_increments_add_then_decrements_subtract(emu: Emulator, identify: Call) -> None:
    identify({"email": JOHN, "customFields": {"Age": "++34"}})
    assert custom_field(emu, "Age") == "34"
    identify({"email": JOHN, "customFields": {"Age": "++6"}})
    assert custom_field(emu, "Age") == "40"
    identify({"email": JOHN, "customFields": {"Age": "--10"}})
    assert custom_field(emu, "Age") == "30"


def test_a_decrement_of_an_empty_field_stores_a_negative_number(emu: Emulator, identify: Call) -> None:
    identify({"email": JOHN, "customFields": {"Credits": "--10"}}, flavor="rest")
    assert custom_field(emu, "Credits") == "-10"


def test_an_increment_of_a_non_numeric_field_is_422_and_changes_nothing(
    emu: Emulator, identify: Call, stored: Stored
) -> None:
    identify({"email": JOHN, "customFields": {"Designation": "Engineer"}})
    answer = identify({"email": JOHN, "tags": ["New"], "customFields": {"Designation": "++1"}})
    assert answer.status_code == 422
    assert answer.json()["status"] == "error"
    assert custom_field(emu, "Designation") == "Engineer"
    assert stored(JOHN)["tags"] == []


def test_new_email_moves_the_contact_to_the_new_address(emu: Emulator, identify: Call) -> None:
    identify({"email": JOHN, "firstName": "John", "tags": ["Developer"]})
    answer = identify({"email": JOHN, "newEmail": "jd@example.com", "lastName": "Doe"})
    assert answer.status_code == 200
    assert emu.contact(JOHN) is None
    moved = emu.contact("jd@example.com")
    assert moved is not None
    assert (moved["firstName"], moved["lastName"], moved["tags"]) == ("John", "Doe", ["Developer"])


def test_new_email_held_by_another_contact_is_422(emu: Emulator, identify: Call) -> None:
    identify({"email": JOHN})
    identify({"email": "jd@example.com"})
    assert identify({"email": JOHN, "newEmail": "jd@example.com"}).status_code == 422
    assert emu.contact(JOHN) is not None


@pytest.mark.parametrize("flavor", ["v1", "rest"])
def test_track_of_an_unknown_contact_is_404(track: Call, flavor: str) -> None:
    answer = track("nobody@example.com", ["paid user"], flavor=flavor)
    assert answer.status_code == 404
    assert answer.json()["status"] == "error"


@pytest.mark.parametrize("flavor", ["v1", "rest"])
def test_track_adds_and_removes_tags(emu: Emulator, identify: Call, track: Call, flavor: str, stored: Stored) -> None:
    identify({"email": JOHN, "tags": ["trial user", "Tech"]})
    assert track(JOHN, ["paid user"], ["trial user"], flavor=flavor).status_code == 200
    assert stored(JOHN)["tags"] == ["Tech", "paid user"]


@pytest.mark.parametrize("flavor", ["v1", "rest"])
@pytest.mark.parametrize("key", ["wrong-key", None])
def test_a_wrong_or_missing_api_key_is_401(emu: Emulator, identify: Call, flavor: str, key: str | None) -> None:
    answer = identify({"email": JOHN}, flavor=flavor, key=key)
    assert answer.status_code == 401
    assert answer.json()["status"] == "error"
    assert emu.contact(JOHN) is None


@pytest.mark.parametrize("team", ["team-2", "no-such-team", None])
def test_v1_needs_the_key_of_the_team_it_names(identify: Call, team: str | None) -> None:
    assert identify({"email": JOHN}, key=KEY, team=team).status_code == 401


def test_each_team_sees_only_its_own_contacts(emu: Emulator, identify: Call, stored: Stored) -> None:
    identify({"email": JOHN, "firstName": "One"})
    identify({"email": JOHN, "firstName": "Two"}, key=OTHER_KEY, team="team-2")
    assert stored(JOHN)["firstName"] == "One"
    assert stored(JOHN, team_id="team-2")["firstName"] == "Two"


@pytest.mark.parametrize("field", ["email", "newEmail"])
def test_an_invalid_email_is_422(emu: Emulator, identify: Call, field: str) -> None:
    answer = identify({"email": JOHN, field: "not-an-address"})
    assert answer.status_code == 422
    assert field in answer.json()["message"]


def test_an_unknown_field_is_422(identify: Call) -> None:
    answer = identify({"email": JOHN, "first_name": "John"})
    assert answer.status_code == 422
    assert "first_name" in answer.json()["message"]


def test_the_rest_flavor_refuses_birthday_which_v1_accepts(identify: Call) -> None:
    assert identify({"email": JOHN, "birthday": "1989-03-03"}, flavor="rest").status_code == 422
    assert identify({"email": JOHN, "birthday": "1989-03-03"}, flavor="v1").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"email": JOHN, "customFields": {"Age": 29}},
        {"email": JOHN, "customFields": ["Age"]},
        {"email": JOHN, "tags": "Tech"},
        {"email": JOHN, "tags": [1]},
        {"email": JOHN, "firstName": None},
        {"email": JOHN, "birthday": "03/03/1989"},
        {"firstName": "John"},
    ],
)
def test_a_field_of_the_wrong_type_or_a_missing_email_is_422(identify: Call, body: dict[str, Any]) -> None:
    assert identify(body).status_code == 422


@pytest.mark.parametrize("raw", [b"[1, 2]", b"not json", b'"a string"', b""])
def test_a_body_that_is_not_a_json_object_is_422(emu: Emulator, session: requests.Session, raw: bytes) -> None:
    answer = session.post(
        f"{emu.base_url('rest')}/contact/identify",
        data=raw,
        headers={"X-Team-ApiKey": KEY, "Content-Type": "application/json"},
        timeout=5,
    )
    assert answer.status_code == 422


def test_a_body_sent_without_a_json_content_type_is_415(emu: Emulator, session: requests.Session) -> None:
    answer = session.post(
        f"{emu.base_url('rest')}/contact/identify",
        data=b'{"email": "john@example.com"}',
        headers={"X-Team-ApiKey": KEY},
        timeout=5,
    )
    assert answer.status_code == 415


def test_unknown_paths_are_404_and_wrong_methods_are_405(emu: Emulator, session: requests.Session) -> None:
    assert session.post(f"{emu.url}/api/v1/contact/nothing", json={}, timeout=5).status_code == 404
    assert session.get(f"{emu.url}/_emulator/nothing", timeout=5).status_code == 404
    wrong = session.get(f"{emu.base_url('v1')}/contact/identify", timeout=5)
    assert (wrong.status_code, wrong.headers["Allow"]) == (405, "POST")
    assert session.delete(f"{emu.url}/_emulator/stats", timeout=5).status_code == 405


def test_one_keep_alive_connection_serves_many_requests(emu: Emulator) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=5)

    def post() -> tuple[int, str | None]:
        connection.request(
            "POST",
            "/api/v1/rest/contact/identify",
            body=b'{"email": "john@example.com"}',
            headers={"X-Team-ApiKey": KEY, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Connection")

    try:
        first = post()
        opened = connection.sock
        assert [first, post(), post()] == [(200, None)] * 3
        assert connection.sock is opened
    finally:
        connection.close()


def test_base_urls_point_at_the_real_api_paths(emu: Emulator) -> None:
    assert emu.url == f"http://127.0.0.1:{emu.port}"
    assert emu.base_url("v1") == f"{emu.url}/api/v1"
    assert emu.base_url("rest") == f"{emu.url}/api/v1/rest"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"garbage\r\n\r\n", b"400"),
        (b"GET /_emulator/stats HTTP/2.0\r\n\r\n", b"400"),
        (b"POST /x HTTP/1.1\r\n bad header\r\n\r\n", b"400"),
        (b"POST /api/v1/rest/contact/identify HTTP/1.1\r\nContent-Length: many\r\n\r\n", b"400"),
        (b"POST /api/v1/rest/contact/identify HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", b"411"),
    ],
)
def test_a_malformed_request_is_answered_with_an_error_and_a_closed_connection(
    emu: Emulator, raw: bytes, status: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as connection:
        connection.sendall(raw)
        answer = b""
        while chunk := connection.recv(4096):  # the server closes: the loop ends
            answer += chunk
    assert answer.split(b" ")[1] == status
    assert b"\r\nConnection: close\r\n" in answer
