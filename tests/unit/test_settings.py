"""Settings come from the environment, validated, with errors naming the variable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sendx_worker.errors import ConfigurationError
from sendx_worker.settings import Credentials, load_settings


def test_defaults_need_no_environment() -> None:
    settings = load_settings({})
    assert settings.api_flavor == "v1"
    assert settings.base_url == "https://app.sendx.io/api/v1"
    assert settings.effective_broker_url == "filesystem://localhost/"
    assert settings.uses_embedded_broker
    assert settings.retry_window_s == 72 * 3600
    assert settings.timeout_s == 10


def test_the_rest_flavor_has_its_own_default_base_url() -> None:
    assert load_settings({"SENDX_API_FLAVOR": "rest"}).base_url == "https://api.sendx.io/api/v1/rest"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SENDX_API_FLAVOR", "v2"),
        ("SENDX_TIMEOUT", "ten"),
        ("SENDX_TIMEOUT", "0"),
        ("SENDX_TIMEOUT", "-1"),
        ("SENDX_TIMEOUT", "inf"),
        ("SENDX_RETRY_BASE_S", "nan"),
        ("SENDX_BASE_URL", "ftp://example.com"),
        ("SENDX_BASE_URL", "http://api.sendx.io/api/v1"),
        ("SENDX_TEAMS", "{not json"),
        ("SENDX_TEAMS", '{"eu": {"team_id": "t"}}'),
        ("SENDX_METRICS_PORT", "70000"),
        ("SENDX_MAX_DELIVERIES", "0"),
        ("SENDX_LOG_FORMAT", "xml"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")


def test_a_cap_below_the_base_is_an_error_naming_the_cap() -> None:
    with pytest.raises(ConfigurationError, match="SENDX_RETRY_CAP_S"):
        load_settings({"SENDX_RETRY_BASE_S": "10", "SENDX_RETRY_CAP_S": "5"})


def test_plain_http_is_allowed_for_a_loopback_emulator() -> None:
    settings = load_settings({"SENDX_BASE_URL": "http://127.0.0.1:8025/api/v1/"})
    assert settings.base_url == "http://127.0.0.1:8025/api/v1"


def test_the_api_key_never_shows_in_a_repr() -> None:
    settings = load_settings(
        {
            "SENDX_API_KEY": "sekret-key",
            "SENDX_TEAM_ID": "t1",
            "SENDX_TEAMS": json.dumps({"eu": {"api_key": "other-sekret", "team_id": "t2"}}),
        }
    )
    assert "sekret" not in repr(settings)
    assert "sekret" not in repr(settings.teams)
    assert "sekret" not in repr(settings.credentials_for("eu"))


def test_the_brokers_password_never_shows_in_a_repr() -> None:
    settings = load_settings({"CELERY_BROKER_URL": "amqp://worker:broker-pa55@rabbit.internal:5672//"})
    assert settings.broker_url == "amqp://worker:broker-pa55@rabbit.internal:5672//"
    assert "broker-pa55" not in repr(settings)


def test_credentials_for_a_named_team_come_from_sendx_teams() -> None:
    settings = load_settings({"SENDX_TEAMS": json.dumps({"eu": {"api_key": "k-eu", "team_id": "t-eu"}})})
    assert settings.credentials_for("eu") == Credentials(api_key="k-eu", team_id="t-eu")


def test_sendx_teams_can_be_read_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "teams.json"
    path.write_text(json.dumps({"us": {"api_key": "k-us", "team_id": "t-us"}}))
    assert load_settings({"SENDX_TEAMS": f"@{path}"}).credentials_for("us").team_id == "t-us"


def test_an_unknown_team_is_an_error_naming_the_team() -> None:
    with pytest.raises(ConfigurationError, match="no team named 'mars'"):
        load_settings({}).credentials_for("mars")


def test_the_v1_flavor_requires_a_team_id() -> None:
    with pytest.raises(ConfigurationError, match="SENDX_TEAM_ID"):
        load_settings({"SENDX_API_KEY": "k"}).credentials_for(None)


def test_the_rest_flavor_needs_only_the_key() -> None:
    creds = load_settings({"SENDX_API_KEY": "k", "SENDX_API_FLAVOR": "rest"}).credentials_for(None)
    assert creds.api_key == "k"


def test_without_a_key_the_default_team_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="SENDX_API_KEY"):
        load_settings({}).credentials_for(None)
