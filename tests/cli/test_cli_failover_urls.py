"""A ``;``-separated list of broker URLs: every password masked in check, errors and the worker's log."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.cli.conftest import CliProcess, CliResult
from tests.delivery.conftest import Stack
from tests.support.waiting import wait_for

# Two nodes that refuse connections (nothing listens on ports 1 and 2), each with its own password.
DEAD = "amqp://bob:Zq9first@127.0.0.1:1//;amqp://bob:Zq9second@127.0.0.1:2//"
MASKED_DEAD = "amqp://bob:**@127.0.0.1:1//;amqp://bob:**@127.0.0.1:2//"


def test_check_shows_the_whole_failover_list_masked_and_each_node_down(
    cli: Callable[..., CliResult], stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", f"{DEAD};{stack.broker.url}")
    result = cli("check", "--timeout", "2")
    assert result.code == 0, result.output  # one node up: a warning, not a failure
    vhost = stack.broker.url.rsplit("/", 1)[1]
    (line,) = [line for line in result.out.splitlines() if line.split()[1] == "broker"]
    assert line.startswith(
        f"warn broker        {MASKED_DEAD};amqp://guest:**@127.0.0.1:5672/{vhost}: 2 of 3 unreachable: "
    )
    assert "amqp://bob:**@127.0.0.1:1//: OperationalError: [Errno 111] Connection refused" in line
    assert "amqp://bob:**@127.0.0.1:2//: OperationalError: [Errno 111] Connection refused" in line
    assert "Zq9" not in result.output
    assert "guest:guest" not in result.output


def test_errors_about_an_unreachable_failover_list_show_no_password(
    cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", DEAD)
    checked = cli("check", "--timeout", "1")
    assert checked.code == 1
    assert f"FAIL broker        {MASKED_DEAD}: " in checked.out
    listed = cli("dead", "list")
    assert listed.code == 1
    assert listed.err.startswith(f"sendx-worker: error: cannot reach the broker at {MASKED_DEAD}: ")
    assert "Zq9" not in checked.output + listed.output


def test_a_worker_failing_over_logs_no_password(stack: Stack) -> None:
    worker = CliProcess(
        "worker", "--processes", "1", "-c", "2", env={"CELERY_BROKER_URL": f"{DEAD};{stack.broker.url}"}
    )
    try:
        wait_for(lambda: worker.count(" ready.") or worker.exited(), timeout=90, what="the worker to be ready")
        assert not worker.exited(), worker.log()
        stack.identify({"email": "over@example.com", "firstName": "Over"})
        stack.wait_contact("over@example.com", firstName="Over")
    finally:
        worker.stop(timeout=30)
    log = worker.log()
    assert "127.0.0.1:1//" in log  # Celery said where it could not connect...
    assert "Zq9" not in log  # ...without the password
    assert "guest:guest" not in log
