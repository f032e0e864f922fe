"""Heap: is the worker's small RSS growth a leak? Python's own heap, by ``tracemalloc``.

    python -m bench heap [--tasks 14000] [--marks 2000 6000 10000 14000] [--latency-ms 0]
                         [--broker rabbitmq] [--config default-x1]

RSS grows a little between task 1,000 and 5,000 (``python -m bench memory``). RSS mixes
Python objects with the allocator's free pages, so this looks at the objects: the worker
starts under ``tracemalloc`` (``bench/heapdump/sitecustomize.py``), a heap snapshot is
taken when the emulator has seen each mark's number of requests, and each interval's
change in traced memory is printed with the lines that allocated most of it. A leak
grows with every interval; a heap that only holds the messages in flight goes up and
down. tracemalloc slows the worker and inflates its RSS, so read no speed or RSS here.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from .common import REPO, EmulatorProcess, exit_on_sigterm, isolated_broker, save_results, sendx_env
from .drain import spawn
from .queueing import fill, purge
from .workers import config

__all__ = ["main", "sitting"]

HOOK_FOLDER = REPO / "bench" / "heapdump"
# Allocations of the measuring machinery itself, not of the worker.
_IGNORED = ("<frozen importlib._bootstrap>", "*/tracemalloc.py", "*/linecache.py")


def sitting(*, tasks: int, marks: list[int], latency_ms: float, broker_kind: str, config_name: str) -> dict[str, Any]:
    """Drain ``tasks`` with one worker under tracemalloc; compare its heap at each mark."""
    spec = config(config_name)
    if spec.processes != 1 or spec.pool == "prefork":
        raise ValueError(f"{config_name} is not one worker process; the heap is read from one")
    with (
        tempfile.TemporaryDirectory(prefix="sendx-bench-heap-") as scratch,
        isolated_broker(broker_kind) as broker,
        EmulatorProcess(latency_ms) as emulator,
    ):
        purge(spec, broker)
        fill(spec, broker, tasks)
        emulator.reset()
        env = {**sendx_env(broker, emulator), "BENCH_HEAP_DIR": scratch, "PYTHONPATH": str(HOOK_FOLDER)}
        tree = spawn(spec.commands(), env, Path(scratch), f"heap-{spec.name}")
        snapshots: list[tuple[int, tracemalloc.Snapshot]] = []
        try:
            for mark in marks:
                seen = _wait_for_requests(emulator, mark, tree)
                # One process, started directly: it is the worker (no supervising parent).
                pid = tree.processes[0].pid
                snapshots.append((seen, _snapshot_of(pid, Path(scratch), len(snapshots) + 1)))
        finally:
            tree.stop()
    return {"config": spec.name, "command": spec.shown(), "tasks": tasks, "intervals": _intervals(snapshots)}


def _wait_for_requests(emulator: EmulatorProcess, count: int, tree: Any, timeout: float = 600) -> int:
    deadline = time.monotonic() + timeout
    while (seen := int(emulator.stats()["requests"])) < count:
        if tree.exited() or time.monotonic() > deadline:
            raise RuntimeError(f"the worker stopped after {seen} of {count} requests:\n{tree.log_tail()}")
        time.sleep(0.05)
    return seen


def _snapshot_of(pid: int, folder: Path, number: int, timeout: float = 60) -> tracemalloc.Snapshot:
    os.kill(pid, signal.SIGUSR2)
    path = folder / f"heap-{pid}-{number}.snapshot"
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no heap snapshot from process {pid} (is bench/heapdump on its PYTHONPATH?)")
        time.sleep(0.05)
    return tracemalloc.Snapshot.load(str(path)).filter_traces([tracemalloc.Filter(False, p) for p in _IGNORED])


def _intervals(snapshots: list[tuple[int, tracemalloc.Snapshot]]) -> list[dict[str, Any]]:
    intervals = []
    for (before_at, before), (after_at, after) in itertools.pairwise(snapshots):
        stats = after.compare_to(before, "lineno")
        intervals.append(
            {
                "from_task": before_at,
                "to_task": after_at,
                "traced_kib_before": round(sum(s.size for s in before.statistics("filename")) / 1024, 1),
                "change_kib": round(sum(s.size_diff for s in stats) / 1024, 1),
                "top": [
                    {"kib": round(s.size_diff / 1024, 1), "blocks": s.count_diff, "where": str(s.traceback[0])}
                    for s in stats[:5]
                ],
            }
        )
    return intervals


def report(result: dict[str, Any]) -> str:
    """The intervals as a Markdown table, then each interval's top allocation sites."""
    lines = [
        f"heap of `{result['command']}` (tracemalloc; traced Python memory, not RSS)",
        "",
        "| tasks | traced KiB at start | change KiB |",
        "|---|---|---|",
    ]
    for interval in result["intervals"]:
        lines.append(
            f"| {interval['from_task']} → {interval['to_task']} | {interval['traced_kib_before']:,.1f} "
            f"| {interval['change_kib']:+,.1f} |"
        )
    total = sum(i["change_kib"] for i in result["intervals"])
    lines.append(f"\nnet change over all intervals: {total:+,.1f} KiB")
    for interval in result["intervals"]:
        lines.append(f"\n{interval['from_task']} → {interval['to_task']}, largest changes:")
        lines += [f"  {top['kib']:+8.1f} KiB {top['blocks']:+6d} blocks  {top['where']}" for top in interval["top"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the heap sitting, print the report, save the JSON."""
    exit_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench heap", description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=14000)
    parser.add_argument("--marks", type=int, nargs="+", default=[2000, 6000, 10000, 14000])
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--broker", default="rabbitmq", choices=["rabbitmq", "redis", "filesystem"])
    parser.add_argument("--config", default="default-x1")
    parser.add_argument("--name", default="heap")
    args = parser.parse_args(argv)
    marks = sorted(mark for mark in args.marks if mark <= args.tasks)
    if len(marks) < 2:
        parser.error("--marks needs at least two request counts no larger than --tasks")
    result = sitting(
        tasks=args.tasks, marks=marks, latency_ms=args.latency_ms, broker_kind=args.broker, config_name=args.config
    )
    print(report(result))
    print(f"(results in {save_results(args.name, result)})")
    return 0
