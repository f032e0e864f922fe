"""How each flavor builds its requests, and which base URLs and credentials it accepts."""

from __future__ import annotations

import pytest

from sendx_worker.client.flavors import RequestBuilder, check_base_url
from sendx_worker.errors import ConfigurationError, InvalidPayload
from sendx_worker.settings import Credentials

KEY = "key-123"
UA = "sendx-worker/9.9"


def builder(flavor: str, base_url: str = "https://app.sendx.io/api/v1/", team_id: str | None = "T1") -> RequestBuilder:
    return RequestBuilder(
        flavor=flavor,  # type: ignore[arg-type]
        base_url=base_url,
        credentials=Credentials(api_key=KEY, team_id=team_id),
        user_agent=UA,
    )


def test_v1_identify_sends_the_key_as_api_key_header_and_the_team_in_the_query() -> None:
    call = builder("v1").build("identify", {"email": "a@b.io", "birthday": "1989-03-03"})
    assert call.url == "https://app.sendx.io/api/v1/contact/identify"
    assert call.path == "/api/v1/contact/identify"
    assert call.params == {"team_id": "T1"}
    assert call.headers == {
        "api_key": KEY,
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": UA,
    }
    assert call.body == {"email": "a@b.io", "birthday": "1989-03-03"}


def test_v1_track_moves_the_email_from_the_body_to_the_query() -> None:
    payload = {"email": "a@b.io", "addTags": ["x"], "removeTags": []}
    call = builder("v1").build("track", payload)
    assert call.params == {"team_id": "T1", "email": "a@b.io"}
    assert call.body == {"addTags": ["x"], "removeTags": []}
    assert call.path == "/api/v1/contact/track"
    assert payload["email"] == "a@b.io", "the caller's payload is left alone"


def test_v1_track_without_an_email_is_an_invalid_payload() -> None:
    with pytest.raises(InvalidPayload) as caught:
        builder("v1").build("track", {"addTags": ["x"]})
    assert "email" in caught.value.messages


def test_rest_sends_the_key_as_x_team_apikey_and_no_query() -> None:
    base = "https://api.sendx.io/api/v1/rest"
    call = builder("rest", base, team_id=None).build("track", {"email": "a@b.io", "addTags": [], "removeTags": ["y"]})
    assert call.url == base + "/contact/track"
    assert call.params == {}
    assert call.headers["X-Team-ApiKey"] == KEY
    assert "api_key" not in call.headers
    assert call.body == {"email": "a@b.io", "addTags": [], "removeTags": ["y"]}


def test_rest_identify_leaves_out_the_birthday_the_rest_api_does_not_define() -> None:
    call = builder("rest", "https://api.sendx.io/api/v1/rest").build(
        "identify", {"email": "a@b.io", "firstName": "A", "birthday": "1989-03-03"}
    )
    assert call.body == {"email": "a@b.io", "firstName": "A"}


def test_the_prepared_call_never_shows_the_key_in_its_repr() -> None:
    call = builder("v1").build("identify", {"email": "a@b.io"})
    assert KEY not in repr(call)


def test_a_body_that_is_not_json_is_an_invalid_payload() -> None:
    call = builder("v1").build("identify", {"email": "a@b.io", "customFields": {"n": float("nan")}})
    with pytest.raises(InvalidPayload, match="not JSON"):
        call.encoded_body()


def test_the_body_is_compact_utf8_json() -> None:
    call = builder("v1").build("identify", {"email": "a@b.io", "firstName": "Zoë"})
    assert call.encoded_body() == '{"email":"a@b.io","firstName":"Zoë"}'.encode()


@pytest.mark.parametrize(
    "url",
    [
        "https://app.sendx.io/api/v1",
        "http://127.0.0.1:8025/api/v1",
        "http://127.1.2.3/api/v1",
        "http://localhost:8025/api/v1/rest",
        "http://[::1]:8025/api/v1",
    ],
)
def test_https_or_a_loopback_http_base_url_is_accepted(url: str) -> None:
    check_base_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://app.sendx.io/api/v1",
        "http://10.0.0.1/api/v1",
        "http://localhost.example.com/api/v1",
        "ftp://app.sendx.io/api/v1",
        "app.sendx.io/api/v1",
        "https:///api/v1",
        "https://app.sendx.io/api/v1?team_id=1",
    ],
)
def test_any_other_base_url_is_a_configuration_error_naming_the_variable(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_base_url(url)
    assert caught.value.variable == "SENDX_BASE_URL"


def test_v1_without_a_team_id_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        builder("v1", team_id=None)
    assert caught.value.variable == "SENDX_TEAM_ID"


@pytest.mark.parametrize("key", ["", " s3cr3t", "s3cr3t\n", "s3c r3t", "s3cr3t\x00"])
def test_an_api_key_that_cannot_be_a_header_value_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        RequestBuilder(
            flavor="rest", base_url="https://api.sendx.io", credentials=Credentials(api_key=key), user_agent=UA
        )
    assert caught.value.variable == "SENDX_API_KEY"
    assert "s3c" not in str(caught.value)


def test_an_unknown_flavor_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        builder("v2")
    assert caught.value.variable == "SENDX_API_FLAVOR"
