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
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .common import (
    Broker,
    Drain,
    EmulatorProcess,
    exit_on_sigterm,
    isolated_broker,
    load_average,
    median,
    save_results,
    sendx_env,
    spawn,
    steady_rate,
    wait_for_requests,
)
from .queueing import fill, purge
from .reference import start_reference
from .workers import CONFIGS, WorkerSpec, config

__all__ = ["main", "measure_reference", "measure_worker", "sitting"]

REFERENCES = {"reference": 1, "reference-x2": 2}
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
        "peak_rss_mb": drain.peak_rss_mb,
        "statuses": drain.statuses,
        "rss_at": drain.rss_at,
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
    fill(spec, broker, count)
    emulator.reset()
    load_before, emulator_cpu = load_average(), emulator.cpu_seconds()
    workers = spawn(spec.commands(), sendx_env(broker, emulator), log_dir, f"{spec.name}-{broker.kind}")
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
        steady = steady_rate(emulator.requests_log())
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
    """The same ``count`` bodies posted by ``requests.Session`` threads, no queue at all."""
    processes = REFERENCES[name]
    emulator.reset()
    load_before, emulator_cpu = load_average(), emulator.cpu_seconds()
    env = sendx_env(Broker("none", None, log_dir), emulator)
    tree = start_reference(
        emulator.url, count, threads=REFERENCE_THREADS, processes=processes, env=env, log_dir=log_dir
    )
    try:
        drain = wait_for_requests(emulator, count, tree, timeout=120 + count / 5)
        emulator_cpu = emulator.cpu_seconds() - emulator_cpu
        for process in tree.processes:
            if process.wait(timeout=60) != 0:
                raise RuntimeError(f"the reference failed:\n{tree.log_tail()}")
        steady = steady_rate(emulator.requests_log())
    finally:
        tree.stop()
    command = f"python -m bench.reference --threads {REFERENCE_THREADS} --count N"
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
) -> list[dict[str, Any]]:
    """Measure everything asked, round-robin, ``runs`` times; return one record per run.

    A worker run that stalls or crashes is recorded with its ``error`` and the sitting
    goes on (``keep_going=False``: it raises instead, as the smoke run wants).
    """
    specs = [config(name) for name in configs]
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


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians per (latency, broker, config), with ratios to the references and the naive task."""
    groups: dict[tuple[float, str, str], list[dict[str, Any]]] = {}
    failures: dict[tuple[float, str, str], list[str]] = {}
    for record in records:
        key = (record["latency_ms"], record["broker"], record["config"])
        if "error" in record:
            failures.setdefault(key, []).append(record["error"])
            groups.setdefault(key, [])
        else:
            groups.setdefault(key, []).append(record)
    rows = []
    for (latency, broker, name), members in groups.items():
        if not members:
            continue
        rows.append(
            {
                "latency_ms": latency,
                "broker": broker,
                "config": name,
                "runs": len(members),
                "tasks": members[0]["tasks"],
                "tasks_per_s": median(r["tasks_per_s"] for r in members),
                "steady_per_s": median(r["steady_per_s"] for r in members),
                "cpu_ms_per_task": median(r["cpu_ms_per_task"] for r in members),
                "peak_rss_mb": median(r["peak_rss_mb"] for r in members),
                "emulator_cpu_ms_per_request": median(r["emulator_cpu_ms_per_request"] for r in members),
                "load": median(r["load_before"] for r in members),
                "all_runs": [r["tasks_per_s"] for r in members],
                "failures": failures.get((latency, broker, name), []),
                "command": members[0]["command"],
            }
        )
    for row in rows:
        for other in ("reference", "reference-x2", "naive"):
            broker = "-" if other.startswith("reference") else row["broker"]
            match = next(
                (r for r in rows if (r["latency_ms"], r["broker"], r["config"]) == (row["latency_ms"], broker, other)),
                None,
            )
            ratio = row["tasks_per_s"] / match["tasks_per_s"] if match and match["tasks_per_s"] else None
            row[f"vs_{other}"] = round(ratio, 2) if ratio is not None else None
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The summary as a Markdown table."""
    head = (
        "| latency | broker | configuration | tasks | tasks/s (median) | runs | steady/s | × reference | "
        "× reference-x2 | × naive | worker CPU ms/task | peak RSS MB | emulator CPU ms/req | load |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        runs = ", ".join([*(f"{v:.0f}" for v in r["all_runs"]), *("stalled" for _ in r["failures"])])
        lines.append(
            f"| {r['latency_ms']:g} ms | {r['broker']} | {r['config']} | {r['tasks']} | **{r['tasks_per_s']:.0f}** | "
            f"{runs} | {_fmt(r['steady_per_s'], '.0f')} | {_fmt(r['vs_reference'])} | {_fmt(r['vs_reference-x2'])} | "
            f"{_fmt(r['vs_naive'], '.1f')} | {_fmt(r['cpu_ms_per_task'])} | {_fmt(r['peak_rss_mb'], '.0f')} | "
            f"{_fmt(r['emulator_cpu_ms_per_request'])} | {_fmt(r['load'], '.1f')} |"
        )
    return head + "\n".join(lines)


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


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
    )
    rows = summarize(records)
    print(table(rows))
    path = save_results(args.name, {"records": records, "summary": rows})
    print(f"({time.monotonic() - started:.0f} s; results in {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
