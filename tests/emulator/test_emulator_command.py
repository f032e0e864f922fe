"""``python -m sendx_worker.emulator`` (the same functions back ``sendx-worker emulator``)."""

from __future__ import annotations

import argparse
import re
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from sendx_worker.emulator.command import add_arguments, run


def parse(*argv: str) -> argparse.Namespace:
    """The options as the project CLI would parse them."""
    parser = argparse.ArgumentParser(prog="sendx-worker emulator")
    add_arguments(parser)
    return parser.parse_args(argv)


def first_line(process: subprocess.Popen[str], timeout: float = 20) -> str:
    """The first line ``process`` prints, waiting at most ``timeout`` seconds."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"the emulator printed nothing in {timeout} s")
    return process.stdout.readline()


@pytest.fixture
def emulator_process() -> Iterator[subprocess.Popen[str]]:
    """``python -m sendx_worker.emulator --port 0`` with two teams, killed if a test leaves it running."""
    command = [
        sys.executable,
        "-m",
        "sendx_worker.emulator",
        "--port",
        "0",
        "--team",
        "eu=key-eu",
        "--team",
        "us=key-us",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_the_defaults_are_team_1_with_test_key_on_127_0_0_1_8025() -> None:
    args = parse()
    assert (args.host, args.port, args.team_id, args.api_key, args.team) == ("127.0.0.1", 8025, None, None, [])
    assert (args.latency_ms, args.error_rate, args.error_status, args.seed) == (0.0, 0.0, 503, 0)


def test_the_command_prints_where_it_listens_serves_and_exits_0_on_sigterm(
    emulator_process: subprocess.Popen[str],
) -> None:
    line = first_line(emulator_process)
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+) \(v1: (\S+), rest: (\S+);", line)
    assert match is not None, line
    url, v1, rest = match.groups()
    assert (v1, rest) == (f"{url}/api/v1", f"{url}/api/v1/rest")

    def identify(key: str) -> int:
        body = {"email": "a@example.com"}
        return requests.post(
            f"{rest}/contact/identify", json=body, headers={"X-Team-ApiKey": key}, timeout=5
        ).status_code

    assert identify("key-us") == 200
    assert identify("test-key") == 401  # --team replaces the default team
    emulator_process.send_signal(signal.SIGTERM)
    assert emulator_process.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--error-rate", "2"), ("--port", "70000"), ("--latency-ms", "-5"), ("--error-status", "200"), ("--team", "eu"),
     ("--rate-limit", "0"), ("--rate-limit", "fast"), ("--rate-limit-burst", "0.5")],
)  # fmt: skip
def test_a_bad_flag_value_exits_2_with_a_one_line_error(flag: str, value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sendx_worker.emulator", flag, value], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert flag in errors[0]
    assert "Traceback" not in done.stderr


def test_a_port_already_in_use_fails_with_exit_1_and_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code = run(parse("--port", str(taken.getsockname()[1])))
    assert code == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "cannot listen" in error
