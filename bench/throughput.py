"""Worker throughput: N tasks queued first, then drained by a real worker process.

    python -m bench throughput [--tasks 5000] [--runs 3] [--latency-ms 50 [0 ...]]
                               [--brokers rabbitmq redis filesystem]
                               [--configs default naive threads-64 gevent-100 prefork-8 ...]
                               [--references reference reference-x2]

tasks/s runs from the emulator's first request to its last (``/_emulator/stats``); the
emulator runs in its own process. In the same sitting, the reference (``requests.Session``
× 32 threads, no queue; ``reference-x2``: two such processes) posts the same bodies to the
same emulator. Runs go round-robin over the configurations, so that the load of the
machine (shared, see ``uptime``) spreads over all of them; the table shows medians and
the ratios against the references and the naive task of the same sitting.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .common import (
    REPO,
    Broker,
    EmulatorProcess,
    exit_on_sigterm,
    isolated_broker,
    load_average,
    save_results,
    sendx_env,
)
from .drain import Drain, Stalled, check_statuses, spawn, steady_rate, wait_for_requests
from .queueing import fill, purge
from .reference import finish_reference, start_reference
from .report import summarize, table
from .stores import expand, reset_state
from .workers import CONFIGS, WorkerSpec, config

__all__ = ["main", "measure_reference", "measure_worker", "sitting", "summarize", "table"]

# name: (processes, client). "reference" is the hand-written 32-thread requests.Session
# pool; "httpclient" the same pool on http.client, the floor of Python HTTP here.
REFERENCES = {"reference": (1, "requests"), "reference-x2": (2, "requests"), "httpclient": (1, "http.client")}
REFERENCE_THREADS = 32


def tasks_for(spec: WorkerSpec, latency_ms: float, tasks: int, slow_cap_s: float) -> int:
    """Fewer tasks for a configuration whose slots bound it far below the others (prefork 2 at 50 ms)."""
    if latency_ms <= 0:
        return tasks
    slots = (spec.concurrency or os.cpu_count() or 1) * spec.processes
    bound = slots / (latency_ms / 1000)
    return min(tasks, max(300, int(bound * slow_cap_s) // 100 * 100))


def _record(drain: Drain, **fields: Any) -> dict[str, Any]:
    return {
        **fields,
        "tasks": drain.count,
        "seconds": drain.seconds,
        "tasks_per_s": drain.tasks_per_s,
        "cpu_ms_per_task": drain.cpu_ms_per_task,
        "cpu_ms_per_task_with_startup": drain.cpu_ms_per_task_with_startup,
        "startup_cpu_s": drain.startup_cpu_s,
        "peak_rss_mb": drain.peak_rss_mb,
        "statuses": drain.statuses,
        "rss_at": drain.rss_at,
        "threads_at": drain.threads_at,
    }


def measure_worker(
    spec: WorkerSpec,
    broker: Broker,
    emulator: EmulatorProcess,
    count: int,
    log_dir: Path,
    *,
    rss_checkpoints: tuple[int, ...] | list[int] = (),
) -> dict[str, Any]:
    """Fill ``count`` tasks, start ``spec``'s worker(s), time the drain at the emulator."""
    purge(spec, broker)
    repo = spec.repo or REPO
    env = sendx_env(broker, emulator, repo=repo) | expand(dict(spec.env), broker.data_dir)
    reset_state(env)
    fill(spec, broker, count)
    emulator.reset()
    load_before, emulator_cpu = load_average(), emulator.cpu_seconds()
    workers = spawn(spec.commands(), env, log_dir, f"{spec.name}-{broker.kind}", cwd=repo)
    try:
        drain = wait_for_requests(
            emulator,
            count,
            workers,
            timeout=120 + count / 5,
            interval=0.1 if rss_checkpoints else 0.2,
            rss_checkpoints=rss_checkpoints,
        )
        emulator_cpu = emulator.cpu_seconds() - emulator_cpu
        check_statuses(drain)
        steady = steady_rate(emulator.requests_log())
    except Stalled:
        workers.stop(timeout=5)  # a stalled worker's warm shutdown waits forever for its tasks
        raise
    finally:
        workers.stop()
    return _record(
        drain,
        config=spec.name,
        broker=broker.kind,
        latency_ms=emulator.latency_ms,
        steady_per_s=steady,
        emulator_cpu_ms_per_request=round(emulator_cpu * 1000 / drain.count, 3),
        load_before=load_before,
        load_after=load_average(),
        command=spec.shown(),
    )


def measure_reference(name: str, emulator: EmulatorProcess, count: int, log_dir: Path) -> dict[str, Any]:
    """The same ``count`` bodies posted by threads of ``requests.Session`` (or http.client), no queue at all."""
    processes, client = REFERENCES[name]
    emulator.reset()
    load_before, emulator_cpu = load_average(), emulator.cpu_seconds()
    env = sendx_env(Broker("none", None, log_dir), emulator)
    tree = start_reference(
        emulator.url, count, threads=REFERENCE_THREADS, processes=processes, env=env, log_dir=log_dir, client=client
    )
    try:
        drain = wait_for_requests(emulator, count, tree, timeout=120 + count / 5)
        emulator_cpu = emulator.cpu_seconds() - emulator_cpu
        check_statuses(drain)
        finish_reference(tree)
        steady = steady_rate(emulator.requests_log())
    finally:
        tree.stop()
    command = f"python -m bench.reference --threads {REFERENCE_THREADS} --client {client} --count N"
    return _record(
        drain,
        config=name,
        broker="-",
        latency_ms=emulator.latency_ms,
        steady_per_s=steady,
        emulator_cpu_ms_per_request=round(emulator_cpu * 1000 / drain.count, 3),
        load_before=load_before,
        load_after=load_average(),
        command=command if processes == 1 else f"{processes} x [{command}]",
    )


def sitting(
    *,
    latencies: list[float],
    brokers: list[str],
    configs: list[str],
    references: list[str],
    tasks: int,
    runs: int,
    slow_cap_s: float = 25.0,
    echo: bool = True,
    keep_going: bool = True,
    checkouts: Mapping[str, Path] | None = None,
) -> list[dict[str, Any]]:
    """Measure everything asked, round-robin, ``runs`` times; return one record per run.

    A worker run that stalls or crashes is recorded with its ``error`` and the sitting
    goes on (``keep_going=False``: it raises instead, as the smoke run wants).
    """
    specs = [config(name, checkouts=checkouts) for name in configs]
    records: list[dict[str, Any]] = []
    with ExitStack() as stack:
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sendx-bench-logs-")))
        opened = {kind: stack.enter_context(isolated_broker(kind)) for kind in brokers}
        for latency in latencies:
            with EmulatorProcess(latency) as emulator:
                for run in range(1, runs + 1):
                    for name in references:
                        record = measure_reference(name, emulator, tasks, log_dir)
                        records.append({**record, "run": run})
                        _echo(records[-1], echo)
                    for broker in opened.values():
                        for spec in specs:
                            if spec.dramatiq and broker.kind == "filesystem":
                                continue  # Dramatiq has no such broker: compared with Dramatiq on RabbitMQ
                            count = tasks_for(spec, latency, tasks, slow_cap_s)
                            try:
                                record = measure_worker(spec, broker, emulator, count, log_dir)
                            except RuntimeError as exc:  # a stall or a crash is a result too: note it, go on
                                if not keep_going:
                                    raise
                                record = _failure(spec, broker, emulator, count, exc)
                            records.append({**record, "run": run})
                            _echo(records[-1], echo)
    return records


def _failure(spec: WorkerSpec, broker: Broker, emulator: EmulatorProcess, count: int, exc: Exception) -> dict[str, Any]:
    first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return {
        "config": spec.name,
        "broker": broker.kind,
        "latency_ms": emulator.latency_ms,
        "tasks": count,
        "error": first_line,
        "load_before": load_average(),
        "command": spec.shown(),
    }


def _echo(record: dict[str, Any], echo: bool) -> None:
    if not echo:
        return
    if "error" in record:
        print(
            f"  run {record['run']} {record['latency_ms']:g} ms {record['broker']:10} {record['config']:18} "
            f"FAILED: {record['error']} (load {record['load_before']})",
            flush=True,
        )
        return
    print(
        f"  run {record['run']} {record['latency_ms']:g} ms {record['broker']:10} {record['config']:18} "
        f"{record['tasks']:5} tasks {record['tasks_per_s']:7.1f}/s (steady {record['steady_per_s']}) "
        f"cpu {record['cpu_ms_per_task']} ms/task, rss {record['peak_rss_mb']} MB, "
        f"emulator {record['emulator_cpu_ms_per_request']} ms/req, load {record['load_before']}",
        flush=True,
    )


def _checkout(text: str) -> tuple[str, Path]:
    label, equals, folder = text.partition("=")
    if not equals or not label or not folder:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LABEL=DIR")
    return label, Path(folder)


def main(argv: list[str] | None = None) -> int:
    """Run the sitting asked for, print the table, save the JSON under bench/results/."""
    exit_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[50.0])
    parser.add_argument("--brokers", nargs="+", default=["rabbitmq"], choices=["rabbitmq", "redis", "filesystem"])
    parser.add_argument("--configs", nargs="+", default=["default", "naive"], help=f"from {', '.join(CONFIGS)}")
    parser.add_argument("--references", nargs="*", default=list(REFERENCES), choices=list(REFERENCES))
    parser.add_argument("--slow-cap-s", type=float, default=25.0, help="cap a slots-bound config's run to ~this long")
    parser.add_argument("--strict", action="store_true", help="stop at the first stalled or crashed run")
    parser.add_argument(
        "--checkout",
        action="append",
        default=[],
        type=_checkout,
        metavar="LABEL=DIR",
        help="another checkout of sendx-worker: configurations NAME@LABEL run its sendx_worker (repeatable)",
    )
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="the same as --checkout baseline=DIR")
    parser.add_argument("--name", default="throughput", help="results file prefix (bench/results/NAME-*.json)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    print(f"throughput: load {load_average()}, {args.tasks} tasks, {args.runs} run(s)", flush=True)
    records = sitting(
        latencies=args.latency_ms,
        brokers=args.brokers,
        configs=args.configs,
        references=args.references,
        tasks=args.tasks,
        runs=args.runs,
        slow_cap_s=args.slow_cap_s,
        keep_going=not args.strict,
        checkouts=dict(args.checkout) | ({"baseline": args.baseline} if args.baseline else {}),
    )
    rows = summarize(records)
    print(table(rows))
    path = save_results(args.name, {"records": records, "summary": rows})
    print(f"({time.monotonic() - started:.0f} s; results in {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
