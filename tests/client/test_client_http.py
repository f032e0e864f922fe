"""The client over real HTTP against the scripted stub server: what the emulator does not cover."""

from __future__ import annotations

import logging

import pytest
from sendx_stub_server import API_KEY, TEAM_ID, Reply, StubServer

import sendx_worker
from sendx_worker.client import SendxClient
from sendx_worker.client.failures import BODY_LIMIT
from sendx_worker.errors import ConfigurationError, ConnectionFailed, Rejected, ServerError
from sendx_worker.settings import Credentials, Settings


def client_for(stub: StubServer, credentials: Credentials, **options: object) -> SendxClient:
    return SendxClient(base_url=stub.url, flavor="v1", credentials=credentials, **options)  # type: ignore[arg-type]


def test_every_request_carries_the_json_headers_and_our_user_agent(stub: StubServer, credentials: Credentials) -> None:
    with client_for(stub, credentials) as client:
        client.identify({"email": "john@example.com"})
    headers = stub.received[0].headers
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == f"sendx-worker/{sendx_worker.__version__}"
    assert headers["api_key"] == API_KEY


@pytest.mark.parametrize("reply", [Reply(200, "OK"), Reply(201, b""), Reply(204, b""), Reply(200, b"\xff\xfe")])
def test_a_2xx_without_a_json_body_is_still_a_success_without_a_contact(
    stub: StubServer, credentials: Credentials, reply: Reply
) -> None:
    stub.script(reply)
    result = client_for(stub, credentials).identify({"email": "john@example.com"})
    assert result.status == reply.status
    assert result.contact is None
    assert result.elapsed_s > 0


@pytest.mark.parametrize("status_field", ["error", 422, "500"])
def test_a_2xx_whose_body_reports_an_error_is_rejected(
    stub: StubServer, credentials: Credentials, status_field: object
) -> None:
    stub.script(Reply(200, {"status": status_field, "message": "Invalid email"}))
    with pytest.raises(Rejected) as caught:
        client_for(stub, credentials).identify({"email": "john@example.com"})
    err = caught.value
    assert (err.status, err.sendx_message, err.may_have_reached_sendx) == (200, "Invalid email", True)
    assert err.args[0] == "SendX answered 200 OK but reported an error: Invalid email"


def test_an_error_message_names_the_status_its_phrase_and_sendx_message(
    stub: StubServer, credentials: Credentials
) -> None:
    stub.script(Reply(503, {"status": "error", "message": "upstream down"}, {"Retry-After": "12"}))
    with pytest.raises(ServerError) as caught:
        client_for(stub, credentials).identify({"email": "john@example.com"})
    err = caught.value
    assert err.args[0] == "SendX answered 503 Service Unavailable: upstream down"
    assert str(err) == "SendX answered 503 Service Unavailable: upstream down (POST /api/v1/contact/identify -> 503)"
    assert err.retry_after_s == 12.0
    assert err.may_have_reached_sendx is False


def test_an_html_error_page_is_kept_truncated_and_is_not_taken_as_sendx_message(
    stub: StubServer, credentials: Credentials
) -> None:
    page = "<html><body>" + "x" * 5000 + "</body></html>"
    stub.script(Reply(502, page, {"Content-Type": "text/html"}))
    with pytest.raises(ServerError) as caught:
        client_for(stub, credentials).identify({"email": "john@example.com"})
    err = caught.value
    assert err.sendx_message is None
    assert isinstance(err.body, str) and len(err.body) == BODY_LIMIT and err.body.endswith("…")
    assert err.may_have_reached_sendx is True


def test_a_short_plain_text_error_body_is_taken_as_sendx_message(stub: StubServer, credentials: Credentials) -> None:
    stub.script(Reply(400, "email is required", {"Content-Type": "text/plain"}))
    with pytest.raises(Rejected) as caught:
        client_for(stub, credentials).identify({"email": "john@example.com"})
    assert caught.value.sendx_message == "email is required"


@pytest.mark.parametrize(("status", "reached"), [(301, False), (302, True), (303, True), (307, False), (308, False)])
def test_a_redirect_is_not_followed_and_is_retried_as_a_server_error(
    stub: StubServer, credentials: Credentials, status: int, reached: bool
) -> None:
    stub.script(Reply(status, b"", {"Location": "https://elsewhere.example/api?token=abc"}))
    with pytest.raises(ServerError) as caught:
        client_for(stub, credentials).identify({"email": "john@example.com"})
    err = caught.value
    assert len(stub.received) == 1, "the redirect must not be followed"
    assert "redirect to https://elsewhere.example/api, not followed" in err.args[0]
    assert "token" not in str(err)
    assert err.may_have_reached_sendx is reached


def test_a_stray_1xx_final_answer_is_retried_as_a_server_error(stub: StubServer, credentials: Credentials) -> None:
    stub.script(Reply(102, b""))
    with pytest.raises(ServerError) as caught:
        client_for(stub, credentials).identify({"email": "john@example.com"})
    assert caught.value.status == 102
    assert caught.value.may_have_reached_sendx is True


def test_on_response_is_told_of_every_attempt_with_its_status_and_time(
    stub: StubServer, credentials: Credentials, closed_port: int
) -> None:
    calls: list[tuple[str, int | None, float]] = []
    stub.script(Reply(200), Reply(500, {"status": "error", "message": "boom"}))
    client = client_for(stub, credentials, on_response=lambda *args: calls.append(args))
    client.identify({"email": "john@example.com"})
    with pytest.raises(ServerError):
        client.track({"email": "john@example.com", "addTags": ["a"], "removeTags": []})
    down = SendxClient(
        base_url=f"http://127.0.0.1:{closed_port}/api/v1", flavor="v1", credentials=credentials,
        on_response=lambda *args: calls.append(args),
    )  # fmt: skip
    with pytest.raises(ConnectionFailed):
        down.identify({"email": "john@example.com"})
    assert [(op, status) for op, status, _ in calls] == [("identify", 200), ("track", 500), ("identify", None)]
    assert all(elapsed >= 0 for _, _, elapsed in calls)


def test_a_failing_on_response_hook_cannot_break_a_call(
    stub: StubServer, credentials: Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(operation: str, status: int | None, elapsed: float) -> None:
        raise RuntimeError("metrics backend down")

    caplog.set_level(logging.DEBUG, logger="sendx_worker.client")
    result = client_for(stub, credentials, on_response=broken).identify({"email": "john@example.com"})
    assert result.status == 200
    assert any("on_response hook failed" in r.getMessage() for r in caplog.records)


def test_the_client_logs_at_debug_only_and_masks_the_email(
    stub: StubServer, credentials: Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sendx_worker.client")
    stub.script(Reply(200), Reply(422, {"status": "error", "message": "bad address john@example.com"}))
    client = client_for(stub, credentials)
    client.identify({"email": "john@example.com"})
    with pytest.raises(Rejected):
        client.identify({"email": "john@example.com"})
    assert len(caplog.records) == 2
    assert {r.levelno for r in caplog.records} == {logging.DEBUG}
    assert "john@" not in caplog.text
    assert "j***@example.com" in caplog.text


@pytest.mark.parametrize(("timeout_s", "expected"), [(10.0, (3.05, 10.0)), (0.5, (0.5, 0.5)), (60, (3.05, 60))])
def test_the_connect_timeout_is_capped_and_the_read_timeout_is_the_setting(
    credentials: Credentials, timeout_s: float, expected: tuple[float, float]
) -> None:
    client = SendxClient(
        base_url="https://app.sendx.io/api/v1", flavor="v1", credentials=credentials, timeout_s=timeout_s
    )
    assert client.timeout == expected


def test_a_plain_http_base_url_off_loopback_is_refused_at_construction(credentials: Credentials) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SendxClient(base_url="http://app.sendx.io/api/v1", flavor="v1", credentials=credentials)
    assert caught.value.variable == "SENDX_BASE_URL"


def test_from_settings_uses_the_settings_and_the_named_team(stub: StubServer) -> None:
    settings = Settings(
        api_key="default-key",
        team_id="default-team",
        base_url=stub.url,
        timeout_s=4.0,
        teams={"eu": Credentials(api_key="eu-key", team_id="eu-team")},
    )
    client = SendxClient.from_settings(settings, "eu", pool_size=32)
    assert (client.flavor, client.base_url, client.pool_size, client.timeout) == ("v1", stub.url, 32, (3.05, 4.0))
    client.identify({"email": "john@example.com"})
    assert stub.received[0].headers["api_key"] == "eu-key"
    assert stub.received[0].query == {"team_id": "eu-team"}


def test_from_settings_without_a_key_names_the_missing_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        SendxClient.from_settings(Settings())
    assert caught.value.variable == "SENDX_API_KEY"


def test_the_client_repr_shows_the_team_but_not_the_key(credentials: Credentials) -> None:
    client = SendxClient(base_url="https://app.sendx.io/api/v1", flavor="v1", credentials=credentials)
    assert TEAM_ID in repr(client)
    assert API_KEY not in repr(client)


def test_a_closed_client_reconnects_on_the_next_call(stub: StubServer, credentials: Credentials) -> None:
    client = client_for(stub, credentials)
    client.identify({"email": "john@example.com"})
    client.close()
    assert client.identify({"email": "john@example.com"}).status == 200
    assert len(stub.received) == 2


def test_an_error_body_with_an_unknown_charset_is_still_read(stub: StubServer, credentials: Credentials) -> None:
    body = b'{"status": "error", "message": "caf\xc3\xa9 closed"}'
    stub.script(Reply(422, body, {"Content-Type": "application/json; charset=no-such-charset"}))
    with pytest.raises(Rejected) as caught:
        client_for(stub, credentials).identify({"email": "john@example.com"})
    assert caught.value.sendx_message == "café closed"
