"""The console's settings: read from the environment, validated, never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from sendx_worker.errors import ConfigurationError
from sendx_worker.settings import load_settings


def test_the_console_defaults_to_no_credentials_read_write_and_ten_replays_a_second() -> None:
    console = load_settings({}).console
    assert (console.token, dict(console.users), console.read_only, console.replay_rate) == (None, {}, False, 10.0)
    assert not console.has_auth


def test_users_come_inline_or_from_a_file_and_never_show_in_a_repr(tmp_path: Path) -> None:
    inline = load_settings(
        {"SENDX_CONSOLE_USERS": "alice:alice-pass-1, bob:b:o:b-pass", "SENDX_CONSOLE_TOKEN": "t" * 16}
    )
    assert dict(inline.console.users) == {"alice": "alice-pass-1", "bob": "b:o:b-pass"}
    assert inline.console.has_auth
    assert "alice-pass-1" not in repr(inline) and "t" * 16 not in repr(inline)
    listed = tmp_path / "users"
    listed.write_text("carol:carol-password\n\n")
    assert dict(load_settings({"SENDX_CONSOLE_USERS": f"@{listed}"}).console.users) == {"carol": "carol-password"}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SENDX_CONSOLE_TOKEN", "short"),
        ("SENDX_CONSOLE_USERS", "alice"),
        ("SENDX_CONSOLE_USERS", "alice:short"),
        ("SENDX_CONSOLE_USERS", ":no-user-name"),
        ("SENDX_CONSOLE_USERS", "@/no/such/file"),
        ("SENDX_CONSOLE_READ_ONLY", "maybe"),
        ("SENDX_CONSOLE_REPLAY_RATE", "0"),
        ("SENDX_CONSOLE_REPLAY_RATE", "fast"),
        ("SENDX_CONSOLE_REPLAY_RATE", "5000"),
    ],
)
def test_a_bad_value_names_its_variable_and_never_echoes_a_password(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({variable: value})
    assert caught.value.variable == variable
    if variable == "SENDX_CONSOLE_USERS":
        assert "short" not in str(caught.value) and "no-user-name" not in str(caught.value)
