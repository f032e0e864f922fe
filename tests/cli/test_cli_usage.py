"""The command line as a whole: help with examples, one-line usage errors, exit codes, entry points."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sendx_worker import __version__
from sendx_worker.cli.common import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from sendx_worker.cli.parser import build_parser
from tests.cli.conftest import CliProcess, CliResult, run_module
from tests.support.waiting import wait_for

COMMANDS = [
    [],
    ["demo"],
    ["worker"],
    ["emulator"],
    ["identify"],
    ["track"],
    ["dead"],
    ["dead", "list"],
    ["dead", "show"],
    ["dead", "replay"],
    ["dead", "purge"],
    ["check"],
]


def test_exit_codes_are_the_contracts() -> None:
    assert (EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED) == (0, 1, 2, 130)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_every_help_shows_examples_and_exits_0(cli: Callable[..., CliResult], command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.code == 0
    assert "examples:" in result.out
    assert f"sendx-worker {' '.join(command)}".strip() in result.out
    assert result.err == ""


def test_the_top_level_help_lists_every_command_and_the_exit_codes(cli: Callable[..., CliResult]) -> None:
    out = cli("--help").out
    for command in ("demo", "worker", "emulator", "identify", "track", "dead", "check"):
        assert f"\n    {command} " in out
    assert "2 bad usage or invalid input" in out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["bogus"], "invalid choice: 'bogus'"),
        (["dead"], "the following arguments are required: ACTION"),
        (["dead", "replay"], "one of the arguments id --all is required"),
        (["dead", "purge", "abc", "--all"], "not allowed with argument"),
        (["track", "--email", "a@example.com", "--add", "x", "--colour", "blue"], "unrecognized arguments: --colour"),
        (["identify", "--email", "a@example.com", "--custom-field", "Plan"], "'Plan' is not NAME=VALUE"),
        (["demo", "--events", "2"], "'2' is not a number of events"),
        (["worker", "--processes", "0"], "'0' is not a number of processes"),
        (["--log-format", "xml", "check"], "invalid choice: 'xml'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(cli: Callable[..., CliResult], argv: list[str], says: str) -> None:
    result = cli(*argv)
    assert result.code == EXIT_USAGE
    assert result.out == ""
    assert result.err.startswith("sendx-worker: error: ")
    assert result.err.count("\n") == 1
    assert says in result.err


def test_the_parser_is_built_apart_from_main() -> None:
    args = build_parser().parse_args(["--log-format", "json", "dead", "show", "abc"])
    assert (args.log_format, args.command, args.action, args.id) == ("json", "dead", "show", "abc")


def test_python_dash_m_sendx_worker_is_the_cli() -> None:
    result = run_module("--version")
    assert (result.code, result.out.strip()) == (0, f"sendx-worker {__version__}")


def test_the_console_script_is_the_cli(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "sendx-worker"
    found = str(script) if script.exists() else shutil.which("sendx-worker")
    assert found, "the sendx-worker console script is not installed"
    done = subprocess.run([found, "identify"], capture_output=True, text=True, timeout=60, check=False, env=os.environ)
    assert done.returncode == EXIT_USAGE
    assert done.stderr.strip() == (
        "sendx-worker: error: the following arguments are required: --email (see 'sendx-worker identify --help')"
    )


def test_a_bad_setting_is_one_line_naming_the_variable(
    cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDX_RETRY_BASE_S", "soon")
    result = cli("dead", "list")
    assert result.code == EXIT_USAGE
    assert (
        result.err
        == "sendx-worker: error: configuration: SENDX_RETRY_BASE_S: must be a number of seconds, not 'soon'\n"
    )


def test_the_emulator_is_mounted_as_a_command_and_stops_on_sigterm() -> None:
    emulator = CliProcess("emulator", "--port", "0", "--team", "eu=key-eu")
    try:
        wait_for(lambda: emulator.count("SendX emulator listening on http://127.0.0.1:") or emulator.exited())
    finally:
        code = emulator.stop()
    assert code == 0, emulator.log()
    assert "teams: eu" in emulator.log()
