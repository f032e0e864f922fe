"""``sendx-worker worker``: Celery with our defaults, pass-through options, N processes, graceful SIGTERM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

import psutil
import pytest

from sendx_worker.celeryconf import WORKER_CONCURRENCY
from sendx_worker.cli.cpus import available_cpus
from sendx_worker.cli.parser import build_parser
from sendx_worker.cli.worker import (
    celery_worker_args,
    child_commands,
    node_names,
    process_count,
    with_processes_pool,
)
from tests.cli.conftest import API_KEY, CliProcess, CliResult, run_module
from tests.delivery.conftest import Stack
from tests.support.waiting import wait_for

DEFAULTS = ["worker", "-Q", "sendx", "--without-gossip", "--without-mingle"]


def test_the_defaults_suit_an_io_bound_job() -> None:
    assert WORKER_CONCURRENCY == 64
    assert celery_worker_args([]) == [*DEFAULTS, "--loglevel", "INFO", "-c", "64", "-n", "sendx@%h"]


def test_options_given_pass_through_after_the_defaults_so_they_win() -> None:
    args = celery_worker_args(["-c", "64", "-l", "DEBUG", "--hostname=me@%h"])
    assert args == [*DEFAULTS, "--loglevel", "INFO", "-c", "64", "-l", "DEBUG", "--hostname=me@%h"]


def test_a_process_pool_gets_one_process_per_cpu_unless_told_otherwise() -> None:
    cpus = str(available_cpus())
    assert celery_worker_args(["-P", "prefork"])[-6:] == ["-c", cpus, "-P", "processes", "-n", "sendx@%h"]
    assert "-c" not in celery_worker_args(["--pool=prefork", "-c2"])
    assert celery_worker_args(["--pool=gevent"])[-5:] == ["-c", "64", "--pool=gevent", "-n", "sendx@%h"]


@pytest.mark.parametrize(
    ("given", "passed"),
    [
        (["-P", "prefork"], ["-P", "processes"]),
        (["--pool", "prefork"], ["--pool", "processes"]),
        (["--pool=prefork"], ["--pool=processes"]),
        (["-Pprefork"], ["-Pprocesses"]),
        (["-P", "threads", "-c", "8"], ["-P", "threads", "-c", "8"]),
        (["-P", "gevent", "-n", "prefork@%h"], ["-P", "gevent", "-n", "prefork@%h"]),  # only a pool is renamed
        (["-n", "prefork"], ["-n", "prefork"]),
    ],
)
def test_prefork_is_passed_as_processes_which_celery_cannot_mistake_for_no_pool(
    given: list[str], passed: list[str]
) -> None:
    assert with_processes_pool(given) == passed


def test_each_process_gets_its_own_node_name() -> None:
    assert node_names([], 2) == ["sendx-1@%h", "sendx-2@%h"]
    assert node_names(["-n", "eu@box"], 3) == ["eu-1@box", "eu-2@box", "eu-3@box"]
    assert celery_worker_args(["-n", "eu@box", "-n", "eu-1@box"])[-2:] == ["-n", "eu-1@box"]


def test_each_child_process_is_this_command_with_one_process_and_its_node() -> None:
    command = [sys.executable, "-m", "sendx_worker", "worker", "--processes", "1", "--supervised-by", str(os.getpid())]
    assert child_commands(["-c", "8"], 2) == [
        [*command, "-c", "8", "-n", "sendx-1@%h"],
        [*command, "-c", "8", "-n", "sendx-2@%h"],
    ]


def test_processes_default_to_auto_and_take_a_number() -> None:
    parse = build_parser().parse_known_args
    assert parse(["worker"])[0].processes == "auto"
    assert parse(["worker", "--processes", "auto"])[0].processes == "auto"
    assert parse(["worker", "--processes", "3"])[0].processes == 3


@pytest.mark.parametrize(
    ("requested", "passthrough", "expected"),
    [
        ("auto", [], 4),  # one per CPU
        ("auto", ["-c", "128", "-P", "gevent"], 4),  # one process is one core whatever the pool in it
        ("auto", ["-P", "prefork"], 1),  # prefork's children take a CPU each already
        ("auto", ["--pool=processes"], 1),
        (3, [], 3),
        (2, ["-P", "prefork"], 2),  # asked for: granted
    ],
)
def test_the_number_of_processes(requested: int | str, passthrough: list[str], expected: int) -> None:
    assert process_count(requested, passthrough, lambda: 4) == expected  # type: ignore[arg-type]


def test_auto_stops_at_64_processes() -> None:
    assert process_count("auto", [], lambda: 500) == 64


def test_the_supervising_parent_imports_no_celery_requests_or_marshmallow() -> None:
    code = (
        "import sys\n"
        "from sendx_worker.cli import main\n"
        "from sendx_worker.cli import processes, worker\n"
        "from sendx_worker.cli.parser import build_parser\n"
        "build_parser().parse_known_args(['worker', '--processes', '2'])\n"
        "heavy = ('celery', 'kombu', 'requests', 'marshmallow', 'ssl', 'http.server', 'urllib.request')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


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
    env = {"SENDX_API_KEY": API_KEY, "SENDX_TEAM_ID": "t"}
    result = run_module("worker", "--processes", "1", "--colour", "blue", env=env)
    assert result.code == 2
    assert "Traceback" not in result.output
    (line,) = result.err.splitlines()
    assert line.startswith("sendx-worker: error: celery worker: No such option")
    assert "--colour" in line

    # Several processes each reject it, and say only that; the command still exits 2.
    several = run_module("worker", "--processes", "2", "--colour", "blue", env=env)
    assert several.code == 2
    assert 1 <= len(several.err.splitlines()) <= 2
    assert set(several.err.splitlines()) == {line}


def test_a_worker_delivers_and_stops_gracefully_on_sigterm(stack: Stack) -> None:
    worker = CliProcess("--log-format", "json", "worker", "--processes", "1", "-c", "4", "-n", "cli-one@%h")
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
        assert stats["pool"]["implementation"] == "sendx_worker.worker.threads:ThreadPool"
        assert stats["pool"]["threads"] == 4
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


def test_p_prefork_really_runs_prefork_children(stack: Stack) -> None:
    # No --processes: with prefork, auto is one worker (its children take the CPUs).
    worker = CliProcess("worker", "-P", "prefork", "-c", "2", "-n", "cli-prefork@%h")
    node = f"cli-prefork@{os.uname().nodename}"
    try:
        wait_for(lambda: worker.count(" ready.") or worker.exited(), timeout=60, what="the worker to be ready")
        assert not worker.exited(), worker.log()
        stats = stack.app.control.inspect(destination=[node], timeout=10).stats()[node]
        assert stats["pool"]["implementation"] == "celery.concurrency.prefork:TaskPool"
        assert len(stats["pool"]["processes"]) == 2
        # sendx-worker -> the Celery worker in that process -> its two pool children.
        tree = psutil.Process(worker.process.pid).children(recursive=True)
        assert sorted(stats["pool"]["processes"]) == sorted(child.pid for child in tree)
        stack.identify({"email": "pre@example.com", "firstName": "Pre"})
        stack.wait_contact("pre@example.com", firstName="Pre")
    except BaseException:
        print(worker.log())  # shown when the test fails
        raise
    finally:
        assert worker.stop(timeout=30) == 0


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
        assert all(node_stats["pool"]["max-concurrency"] == WORKER_CONCURRENCY for node_stats in stats.values())
        # The parent supervises only: it holds no Celery (43 MB before it stopped importing it).
        # (The whole tree's memory is a benchmark's business: python -m bench memory.)
        parent = psutil.Process(workers.process.pid)
        assert parent.memory_info().rss < 30e6, parent.memory_info()
    except BaseException:
        print(stack.emulator.stats(), workers.log())  # shown when the test fails
        raise
    finally:
        code = workers.stop(timeout=30)
    assert code == 0
    assert workers.count("Warm shutdown") == 2
    assert stack.app.control.ping(timeout=1) == []
    assert stack.dead_letters() == []
