"""Every error class, produced by a real scripted answer of the emulator, with its evidence."""

from __future__ import annotations

from typing import Any

import pytest
from sendx_stub_server import API_KEY, TEAM_ID

from sendx_worker.client import SendxClient
from sendx_worker.errors import (
    ApiError,
    AuthError,
    ConnectionFailed,
    ContactNotFound,
    RateLimited,
    Rejected,
    ServerError,
    TransientError,
)
from sendx_worker.settings import Credentials

EMAIL = "john@example.com"
CREDENTIALS = Credentials(api_key=API_KEY, team_id=TEAM_ID)


def make_client(emulator: Any, flavor: str = "v1", *, timeout_s: float = 5.0) -> tuple[SendxClient, list[Any]]:
    attempts: list[Any] = []
    client = SendxClient(
        base_url=emulator.base_url(flavor),
        flavor=flavor,  # type: ignore[arg-type]
        credentials=CREDENTIALS,
        timeout_s=timeout_s,
        on_response=lambda operation, status, elapsed: attempts.append((operation, status)),
    )
    return client, attempts


def identify_fails(client: SendxClient, payload: dict[str, Any] | None = None) -> ApiError:
    with pytest.raises(ApiError) as caught:
        client.identify(payload or {"email": EMAIL, "firstName": "John"})
    return caught.value


@pytest.mark.parametrize("flavor", ["v1", "rest"])
def test_a_503_is_a_server_error_that_never_reached_sendx_and_the_next_call_succeeds(
    emulator: Any, flavor: str
) -> None:
    emulator.set_faults(script={EMAIL: [503]})
    client, attempts = make_client(emulator, flavor)
    err = identify_fails(client)
    assert type(err) is ServerError and isinstance(err, TransientError)
    path = "/api/v1/contact/identify" if flavor == "v1" else "/api/v1/rest/contact/identify"
    assert err.evidence() == {
        "error": "ServerError",
        "message": f"SendX answered 503 Service Unavailable: emulated fault: HTTP 503 (POST {path} -> 503)",
        "method": "POST",
        "path": path,
        "status": 503,
        "sendx_message": "emulated fault: HTTP 503",
        "body": {"status": "error", "message": "emulated fault: HTTP 503"},
        "retry_after_s": None,
        "may_have_reached_sendx": False,
    }
    assert emulator.contact(EMAIL) is None
    assert client.identify({"email": EMAIL, "firstName": "John"}).status == 200
    assert attempts == [("identify", 503), ("identify", 200)]


def test_a_429_is_rate_limited_with_the_retry_after_sendx_asked_for(emulator: Any) -> None:
    emulator.set_faults(script={EMAIL: [{"status": 429, "retry_after": 7}]})
    err = identify_fails(make_client(emulator)[0])
    assert type(err) is RateLimited
    assert (err.status, err.retry_after_s, err.may_have_reached_sendx) == (429, 7.0, False)
    assert err.args[0] == "SendX answered 429 Too Many Requests: emulated fault: HTTP 429"


def test_a_429_with_an_http_date_retry_after_is_read_as_seconds(emulator: Any) -> None:
    emulator.set_faults(script={EMAIL: [{"status": 429, "retry_after": "Thu, 01 Jan 1970 00:00:00 GMT"}]})
    err = identify_fails(make_client(emulator)[0])
    assert type(err) is RateLimited and err.retry_after_s == 0.0


def test_a_scripted_422_is_rejected_for_good(emulator: Any) -> None:
    emulator.set_faults(script={EMAIL: [422]})
    err = identify_fails(make_client(emulator)[0])
    assert type(err) is Rejected and not isinstance(err, TransientError)
    assert (err.status, err.may_have_reached_sendx) == (422, False)


def test_a_401_is_an_auth_error_neither_transient_nor_permanent(emulator: Any) -> None:
    emulator.set_faults(script={EMAIL: [401]})
    err = identify_fails(make_client(emulator, "rest")[0])
    assert type(err) is AuthError
    assert (err.status, err.path, err.may_have_reached_sendx) == (401, "/api/v1/rest/contact/identify", False)


@pytest.mark.parametrize("flavor", ["v1", "rest"])
def test_a_404_on_track_is_contact_not_found_and_the_path_never_holds_the_email(emulator: Any, flavor: str) -> None:
    client, _ = make_client(emulator, flavor)
    with pytest.raises(ContactNotFound) as caught:
        client.track({"email": EMAIL, "addTags": ["paid user"], "removeTags": []})
    err = caught.value
    assert err.status == 404
    assert err.path.endswith("/contact/track")
    assert "john" not in str(err) and "?" not in err.path
    assert emulator.requests()[-1]["status"] == 404


def test_a_500_after_applying_is_a_server_error_that_may_have_reached_sendx(emulator: Any) -> None:
    emulator.set_faults(script={EMAIL: [{"status": 500, "apply": True}]})
    err = identify_fails(make_client(emulator)[0], {"email": EMAIL, "customFields": {"Logins": "++1"}})
    assert type(err) is ServerError
    assert (err.status, err.may_have_reached_sendx) == (500, True)
    assert emulator.contact(EMAIL)["customFields"] == {"Logins": "1"}, "SendX did apply it"


def test_no_answer_within_the_timeout_is_a_connection_failure_that_may_have_reached_sendx(emulator: Any) -> None:
    emulator.set_faults(slow_s=10, script={EMAIL: ["timeout"]})
    client, attempts = make_client(emulator, timeout_s=0.3)
    err = identify_fails(client)
    assert type(err) is ConnectionFailed
    assert (err.status, err.may_have_reached_sendx) == (None, True)
    assert "read timeout" in err.args[0]
    assert attempts == [("identify", None)]


@pytest.mark.parametrize("flavor", ["v1", "rest"])
def test_a_reset_after_sending_is_a_connection_failure_that_may_have_reached_sendx(emulator: Any, flavor: str) -> None:
    emulator.set_faults(script={EMAIL: ["reset"]})
    client, _ = make_client(emulator, flavor)
    err = identify_fails(client)
    assert type(err) is ConnectionFailed
    assert (err.status, err.may_have_reached_sendx) == (None, True)
    assert "dropped" in err.args[0]
    assert client.identify({"email": EMAIL}).status == 200, "the broken connection left the pool"


def test_an_outage_that_resets_every_connection_may_have_reached_sendx(emulator: Any) -> None:
    emulator.set_faults(outage="reset")
    err = identify_fails(make_client(emulator)[0])
    assert type(err) is ConnectionFailed and err.may_have_reached_sendx is True


def test_an_outage_that_refuses_connections_never_reached_sendx_and_its_end_lets_calls_through(
    emulator: Any,
) -> None:
    emulator.set_faults(outage="refuse")
    client, attempts = make_client(emulator)
    err = identify_fails(client)
    assert type(err) is ConnectionFailed
    assert (err.status, err.may_have_reached_sendx) == (None, False)
    assert err.args[0] == "SendX could not be reached: connection refused"
    emulator.set_faults(outage=None)
    assert client.identify({"email": EMAIL}).status == 200
    assert attempts == [("identify", None), ("identify", 200)]


def test_a_closed_port_is_refused_and_never_reached_sendx(closed_port: int) -> None:
    client = SendxClient(base_url=f"http://127.0.0.1:{closed_port}/api/v1", flavor="v1", credentials=CREDENTIALS)
    err = identify_fails(client)
    assert type(err) is ConnectionFailed
    assert err.evidence()["may_have_reached_sendx"] is False
    assert err.evidence()["status"] is None
    assert err.args[0] == "SendX could not be reached: connection refused"
    assert err.path == "/api/v1/contact/identify"
