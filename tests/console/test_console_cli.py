"""``sendx-worker console`` and ``sendx-worker demo --console`` as users start them."""

from __future__ import annotations

import re
import signal
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.cli.conftest import CliProcess, CliResult, run_module
from tests.cli.conftest import cli as cli  # the fixture, for this folder too
from tests.support.brokers import IsolatedBroker
from tests.support.waiting import wait_for

URL = re.compile(r"console: http://127\.0\.0\.1:(\d+)/")


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - a test URL on loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_non_loopback_address_is_refused_without_authentication(cli: Callable[..., CliResult]) -> None:
    refused = cli("console", "--host", "0.0.0.0", "--port", "0")
    assert (refused.code, refused.out) == (2, "")
    assert refused.err == (
        "sendx-worker: error: refusing to listen on 0.0.0.0 without authentication: set SENDX_CONSOLE_TOKEN "
        "(or SENDX_CONSOLE_USERS), or listen on 127.0.0.1\n"
    )
    short = run_module("console", "--host", "0.0.0.0", env={"SENDX_CONSOLE_TOKEN": "short"})
    assert short.code == 2
    assert short.err.startswith("sendx-worker: error: configuration: SENDX_CONSOLE_TOKEN: must be at least 16")
    assert "Traceback" not in short.err


def test_the_console_serves_until_sigterm_and_logs_actions(embedded: IsolatedBroker, tmp_path: Path) -> None:
    console = CliProcess("console", "--port", "0", env={"SENDX_DATA_DIR": str(tmp_path)})
    try:
        port = wait_for(lambda: URL.search(console.log()), timeout=60, what="the console's URL").group(1)
        status, page = fetch(f"http://127.0.0.1:{port}/dead")
        assert status == 200
        assert "No dead letters." in page
        assert "broker filesystem://localhost/" in console.log()
    finally:
        code = console.stop(signal.SIGTERM)
    assert code == 0, console.log()
    assert "Traceback" not in console.log()


def test_the_demo_keeps_its_stack_up_with_the_console_until_ctrl_c(tmp_path: Path) -> None:
    demo = CliProcess("demo", "--console", "--console-port", "0", "--events", "5", "--data-dir", str(tmp_path / "d"))
    try:
        port = wait_for(lambda: URL.search(demo.log()), timeout=90, what="the console's URL").group(1)
        assert "Dead letters (1):" in demo.log()
        status, page = fetch(f"http://127.0.0.1:{port}/dead")
        assert status == 200
        assert "rejected" in page and "a***@example.com" in page
        status, overview = fetch(f"http://127.0.0.1:{port}/")
        assert status == 200
        assert "demo-" in overview  # the demo's worker answers
    finally:
        code = demo.stop(signal.SIGINT)
    assert code == 0, demo.log()
    assert "stopping the worker (SIGTERM): exit 0" in demo.log()
