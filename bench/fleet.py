"""What the outage and rate-limit benchmarks share: payloads, workers, waiting, counting.

Both fill ``sendx`` with identify calls for distinct contacts (no ``++`` increments, so
that a 5xx never splits a message into a dead-lettered increment: the figures are about
the fleet's pace, not the increment policy), run ``sendx-worker worker --processes N``
against an emulator whose faults they change while it runs (:mod:`bench.controlled_emulator`),
and count at the emulator what arrived, and at the broker what was dead-lettered.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sendx_worker.topology import DEAD_LETTER_QUEUE

from .common import BROKERS, Broker, sendx_env
from .controlled_emulator import ControlledEmulator
from .drain import ProcessTree, spawn
from .queueing import queue_depth, sendx_app
from .workers import default_worker

__all__ = [
    "DeadLetters",
    "add_worker_arguments",
    "lost_text",
    "payloads",
    "retry_lines",
    "start_workers",
    "wait_for_outcomes",
]

# The kv log line of a failed call that is retried (sendx_worker.tasks.outcomes): one per call.
_RETRY_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \S+ \S+ .*retry scheduled", re.MULTILINE)


def payloads(prefix: str, count: int) -> list[dict[str, Any]]:
    """``count`` identify payloads, one per distinct contact ``PREFIXn@example.com``."""
    return [{"email": f"{prefix}{n}@example.com", "firstName": "Bench", "tags": ["bench"]} for n in range(count)]


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    """``--broker``, ``--processes``, ``--latency-ms`` and ``--env``, as both benchmarks take them."""
    parser.add_argument("--broker", choices=BROKERS, default="rabbitmq", help="(default rabbitmq)")
    parser.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="the emulator's latency (default 50)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the workers (e.g. a breaker interval); repeatable",
    )


def start_workers(
    broker: Broker, emulator: ControlledEmulator, processes: int, env: Iterable[str], log_dir: Path, name: str
) -> tuple[ProcessTree, str]:
    """``sendx-worker worker --processes N`` on ``broker`` calling ``emulator``; the tree and the command."""
    spec = default_worker(processes)
    environment = sendx_env(broker, emulator)
    for item in env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--env: {item!r} is not NAME=VALUE")
        environment[key] = value
    shown = " ".join([*(f"{item}" for item in env), spec.shown()])
    return spawn(spec.commands(), environment, log_dir, name), shown


class DeadLetters:
    """The depth of ``sendx.dead_letter`` on a broker (0 until a worker has declared it)."""

    def __init__(self, broker: Broker) -> None:
        self._app = sendx_app(broker)

    def count(self) -> int:
        """Records in the dead-letter queue now."""
        try:
            return queue_depth(self._app, DEAD_LETTER_QUEUE)
        except Exception:  # not declared yet: nothing dead-lettered
            return 0

    def close(self) -> None:
        """Close the app's connections."""
        self._app.close()


def wait_for_outcomes(
    emulator: ControlledEmulator,
    tree: ProcessTree,
    *,
    ok_before: int,
    count: int,
    dead_letters: Callable[[], int],
    timeout: float,
    interval: float = 0.2,
) -> tuple[int, int, bool]:
    """Wait until ``count`` more requests were answered 200, or 200s and dead letters make ``count``.

    Returns (200s since ``ok_before``, dead letters, timed out). Raises when every worker exited.
    """
    deadline = time.monotonic() + timeout
    dead, next_dead_check = 0, 0.0
    while True:
        ok = int(emulator.stats()["by_status"].get("200", 0)) - ok_before
        if ok >= count:
            return ok, dead_letters(), False
        now = time.monotonic()
        if now >= next_dead_check:  # a broker round trip: not at every poll
            dead, next_dead_check = dead_letters(), now + 2.0
            if ok + dead >= count:
                return ok, dead, False
        if tree.exited() and all(process.poll() is not None for process in tree.processes):
            raise RuntimeError(f"the workers exited after {ok} of {count}:\n{tree.log_tail()}")
        if now > deadline:
            return ok, dead_letters(), True
        time.sleep(interval)


def retry_lines(logs: Iterable[Path], since: float, until: float) -> int:
    """Failed calls the workers logged as retried between ``since`` and ``until`` (epoch seconds).

    The workers' log times are local time to the millisecond, as ``time.time()`` here.
    """
    total = 0
    for path in logs:
        with contextlib.suppress(OSError):
            for match in _RETRY_LINE.finditer(path.read_text(errors="replace")):
                at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                total += since <= at < until
    return total


def lost_text(record: dict[str, Any]) -> str:
    """A record's "lost" cell: the count, or how many were undelivered when the run timed out."""
    if record["lost"] is not None:
        return str(record["lost"])
    return f"? ({record['undelivered_at_timeout']} undelivered at timeout)"
