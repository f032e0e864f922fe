"""``sendx-worker identify`` and ``track``: validated like the API, delivered by a real worker."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.cli.conftest import API_KEY, CliResult, run_module
from tests.delivery.conftest import Stack


def test_identify_and_track_enqueue_what_a_real_worker_delivers(cli: Callable[..., CliResult], stack: Stack) -> None:
    stack.start_worker()
    identified = cli(
        "identify",
        "--email", "john@example.com",
        "--first-name", "John",
        "--company", "Acme",
        "--birthday", "1989-03-03",
        "--custom-field", "Designation=Engineer",
        "--custom-field", "Logins=++1",
        "--tag", "Developer",
        "--tag", "trial user",
    )  # fmt: skip
    assert identified.code == 0, identified.err
    assert len(identified.out.strip()) == 36  # a task id, alone on its line
    stack.wait_contact("john@example.com", firstName="John", customFields={"Designation": "Engineer", "Logins": "1"})
    tracked = cli("track", "--email", "john@example.com", "--add", "paid user", "--remove", "trial user")
    assert tracked.code == 0, tracked.err
    contact = stack.wait_contact("john@example.com", tags=["Developer", "paid user"])
    assert (contact["company"], contact["birthday"]) == ("Acme", "1989-03-03")
    assert API_KEY not in identified.output + tracked.output


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["identify", "--email", "not-an-address"], "email: Not a valid email address."),
        (["identify", "--email", "a@example.com", "--first-name", "x" * 256], "first_name: Longer than maximum length"),
        (["identify", "--email", "a@example.com", "--custom-field", "Logins=++x"], 'custom_fields.Logins: "++x" is'),
        (["identify", "--email", "a@example.com", "--birthday", "1990-02-30"], "birthday: 1990-02-30 is not a real"),
        (["identify", "--email", "a@example.com", "--tag", " "], "tags.0: Must not be empty."),
        (["track", "--email", "a@example.com"], "add_tags: A track must add or remove at least one tag."),
    ],
)
def test_invalid_input_exits_2_with_one_line_naming_the_field(
    cli: Callable[..., CliResult], args: list[str], field: str
) -> None:
    result = cli(*args)
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("sendx-worker: error: invalid input: ")
    assert result.err.count("\n") == 1
    assert field in result.err


def test_a_custom_field_given_twice_is_a_usage_error(cli: Callable[..., CliResult]) -> None:
    result = cli("identify", "--email", "a@example.com", "--custom-field", "Plan=A", "--custom-field", "Plan=B")
    assert (result.code, result.err) == (2, "sendx-worker: error: argument --custom-field: 'Plan' is given twice\n")


def test_invalid_input_in_a_real_process_is_one_line_without_a_traceback() -> None:
    result = run_module(
        "identify", "--email", "ann@example.com", "--first-name", "x" * 300, "--custom-field", "Logins=++x",
        env={"SENDX_API_KEY": API_KEY},
    )  # fmt: skip
    assert result.code == 2
    assert result.out == ""
    assert "Traceback" not in result.err
    (line,) = result.err.splitlines()
    assert line.startswith("sendx-worker: error: invalid input: ")
    assert "first_name" in line
    assert "custom_fields.Logins" in line
    assert API_KEY not in result.output


def test_an_unreachable_broker_fails_with_one_line_and_no_password(
    cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 1: nothing listens, the connection is refused at once (the publish retries ~9 s).
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest:hunter2@127.0.0.1:1//")
    result = cli("track", "--email", "a@example.com", "--add", "x")
    assert result.code == 1
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert result.err.startswith("sendx-worker: error: could not publish sendx.track_tags to the broker at amqp://")
    assert "hunter2" not in result.err
