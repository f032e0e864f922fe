"""``sendx-worker worker``: Celery with our defaults, pass-through options, N processes, graceful SIGTERM."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from sendx_worker.cli.worker import DEFAULT_CONCURRENCY, celery_worker_args, node_names
from tests.cli.conftest import API_KEY, CliProcess, CliResult, run_module
from tests.delivery.conftest import Stack
from tests.support.waiting import wait_for

DEFAULTS = ["worker", "-Q", "sendx", "-P", "threads", "--without-gossip", "--without-mingle"]


def test_the_defaults_suit_an_io_bound_job() -> None:
    assert DEFAULT_CONCURRENCY == 64
    assert celery_worker_args([]) == [*DEFAULTS, "--loglevel", "INFO", "-c", "64", "-n", "sendx@%h"]


def test_options_given_pass_through_after_the_defaults_so_they_win() -> None:
    args = celery_worker_args(["-c", "64", "-l", "DEBUG", "--hostname=me@%h"])
    assert args == [*DEFAULTS, "--loglevel", "INFO", "-c", "64", "-l", "DEBUG", "--hostname=me@%h"]


def test_a_process_pool_gets_one_process_per_core_unless_told_otherwise() -> None:
    assert celery_worker_args(["-P", "prefork"])[-6:] == ["-c", str(os.cpu_count()), "-P", "prefork", "-n", "sendx@%h"]
    assert "-c" not in celery_worker_args(["--pool=prefork", "-c2"])
    assert celery_worker_args(["--pool=gevent"])[-5:] == ["-c", "64", "--pool=gevent", "-n", "sendx@%h"]


def test_each_process_gets_its_own_node_name() -> None:
    assert node_names([], 2) == ["sendx-1@%h", "sendx-2@%h"]
    assert node_names(["-n", "eu@box"], 3) == ["eu-1@box", "eu-2@box", "eu-3@box"]
    assert celery_worker_args(["-n", "eu@box"], "eu-1@box")[-2:] == ["-n", "eu-1@box"]


def test_a_bad_configuration_stops_the_worker_before_celery_starts(
    cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDX_API_FLAVOR", "rest")
    result = cli("worker")
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "sendx-worker: error: configuration: SENDX_API_KEY: is not set; the worker refuses to call SendX without it\n"
    )


def test_an_unknown_celery_option_is_one_line_and_exit_2() -> None:
    result = run_module("worker", "--colour", "blue", env={"SENDX_API_KEY": API_KEY, "SENDX_TEAM_ID": "t"})
    assert result.code == 2
    assert "Traceback" not in result.output
    (line,) = result.err.splitlines()
    assert line.startswith("sendx-worker: error: celery worker: No such option")
    assert "--colour" in line


def test_a_worker_delivers_and_stops_gracefully_on_sigterm(stack: Stack) -> None:
    worker = CliProcess("--log-format", "json", "worker", "-c", "4", "-n", "cli-one@%h")
    try:
        wait_for(lambda: worker.count(" ready.") or worker.exited(), timeout=60, what="the worker to be ready")
        assert not worker.exited(), worker.log()
        stack.identify({"email": "lea@example.com", "firstName": "Lea"})
        stack.wait_contact("lea@example.com", firstName="Lea")
        node = f"cli-one@{os.uname().nodename}"
        # With a destination, inspect returns as soon as that node has answered.
        inspect = stack.app.control.inspect(destination=[node], timeout=10)
        stats = inspect.stats()[node]
        assert stats["pool"]["max-concurrency"] == 4  # -c 4 overrode the default
        assert stats["pool"]["implementation"].endswith("thread:TaskPool")
        queues = inspect.active_queues()[node]
        assert [queue["name"] for queue in queues] == ["sendx"]
    except BaseException:
        print(worker.log())  # shown when the test fails
        raise
    finally:
        code = worker.stop(timeout=30)
    assert code == 0
    assert "Warm shutdown" in worker.log()
    assert API_KEY not in worker.log()
    (ready,) = [line for line in worker.log().splitlines() if " ready." in line]
    assert json.loads(ready)["event"] == f"{node} ready."  # --log-format json


def test_two_processes_both_consume_and_both_stop_on_sigterm(stack: Stack) -> None:
    workers = CliProcess("worker", "--processes", "2")
    host = os.uname().nodename
    try:
        wait_for(lambda: workers.count(" ready.") >= 2 or workers.exited(), timeout=60, what="two nodes ready")
        assert not workers.exited(), workers.log()
        for index in range(200):
            stack.identify({"email": f"user{index}@example.com", "tags": ["bulk"]})
        wait_for(lambda: stack.emulator.stats()["by_status"].get("200", 0) >= 200, timeout=60, what="200 deliveries")
        nodes = [f"sendx-1@{host}", f"sendx-2@{host}"]
        stats = stack.app.control.inspect(destination=nodes, timeout=10).stats()
        assert sorted(stats) == nodes
        handled = {node: sum(node_stats.get("total", {}).values()) for node, node_stats in stats.items()}
        assert sum(handled.values()) == 200
        assert all(count > 0 for count in handled.values()), handled
        assert all(node_stats["pool"]["max-concurrency"] == DEFAULT_CONCURRENCY for node_stats in stats.values())
    except BaseException:
        print(stack.emulator.stats(), workers.log())  # shown when the test fails
        raise
    finally:
        code = workers.stop(timeout=30)
    assert code == 0
    assert workers.count("Warm shutdown") == 2
    assert stack.app.control.ping(timeout=1) == []
    assert stack.dead_letters() == []
