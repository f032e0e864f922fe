"""Memory: the default worker's peak RSS over a run, and its RSS at task 1,000 against the last task.

    python -m bench memory [--tasks 5000] [--runs 3] [--latency-ms 50] [--broker rabbitmq]
                           [--configs default] [--baseline DIR]

``--baseline DIR``: configurations ``NAME@baseline`` run the ``sendx_worker`` of that
checkout, for a before/after in one sitting (as ``python -m bench throughput``).

The RSS is the worker's process tree (psutil, sampled every 0.1 s with the emulator's
request count), so a checkpoint "at task 1,000" is the first sample that saw 1,000
requests. A leak shows as growth between the checkpoints; RSS normally steps up
while the pool's threads and connections are first created, before task 1,000. The
reference, in the same sitting: the ``requests.Session`` × 32 threads client posting
the same bodies (what a Python process doing the HTTP alone needs).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .common import EmulatorProcess, exit_on_sigterm, isolated_broker, load_average, median, save_results
from .throughput import measure_reference, measure_worker
from .workers import config

__all__ = ["main", "sitting"]

FIRST_CHECKPOINT = 1000


def _checkpoints(tasks: int) -> list[int]:
    step = 1000 if tasks >= 2000 else max(tasks // 4, 1)
    marks = list(range(step, tasks, step))
    return sorted({*marks, min(FIRST_CHECKPOINT, tasks // 5 or 1), tasks})


def sitting(
    *,
    tasks: int,
    runs: int,
    latency_ms: float,
    broker_kind: str,
    configs: list[str],
    checkouts: Mapping[str, Path] | None = None,
    echo: bool = True,
) -> list[dict[str, Any]]:
    """``runs`` rounds of the reference then each configuration, with RSS checkpoints."""
    records = []
    checkpoints = _checkpoints(tasks)
    first = min(FIRST_CHECKPOINT, checkpoints[0]) if tasks < FIRST_CHECKPOINT else FIRST_CHECKPOINT
    with (
        tempfile.TemporaryDirectory(prefix="sendx-bench-logs-") as logs,
        isolated_broker(broker_kind) as broker,
        EmulatorProcess(latency_ms) as emulator,
    ):
        for run in range(1, runs + 1):
            reference = measure_reference("reference", emulator, tasks, Path(logs))
            records.append({**reference, "run": run, "rss_at": {}})
            for name in configs:
                spec = config(name, checkouts=checkouts)
                record = measure_worker(spec, broker, emulator, tasks, Path(logs), rss_checkpoints=checkpoints)
                rss_at = record["rss_at"]
                record.update(
                    run=run,
                    rss_first_mb=rss_at.get(first),
                    rss_last_mb=rss_at.get(tasks),
                    threads_first=record["threads_at"].get(first),
                    threads_last=record["threads_at"].get(tasks),
                    first_checkpoint=first,
                )
                if record["rss_first_mb"] and record["rss_last_mb"]:
                    record["growth_mb"] = round(record["rss_last_mb"] - record["rss_first_mb"], 1)
                records.append(record)
            if echo:
                for record in records[-1 - len(configs) :]:
                    print(
                        f"  run {run} {record['config']:12} peak {record['peak_rss_mb']} MB, "
                        f"RSS by task {record.get('rss_at') or '-'}, "
                        f"OS threads by task {record.get('threads_at') or '-'}, load {load_average()}",
                        flush=True,
                    )
    return records


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians per configuration."""
    rows = []
    for name in dict.fromkeys(r["config"] for r in records):
        mine = [r for r in records if r["config"] == name]
        rows.append(
            {
                "config": name,
                "runs": len(mine),
                "tasks": mine[0]["tasks"],
                "peak_rss_mb": median(r["peak_rss_mb"] for r in mine),
                "first_checkpoint": mine[0].get("first_checkpoint"),
                "rss_first_mb": median(r.get("rss_first_mb") for r in mine),
                "rss_last_mb": median(r.get("rss_last_mb") for r in mine),
                "growth_mb": median(r.get("growth_mb") for r in mine),
                "all_growth_mb": [r.get("growth_mb") for r in mine],
                "all_threads": [(r.get("threads_first"), r.get("threads_last")) for r in mine],
                "tasks_per_s": median(r["tasks_per_s"] for r in mine),
                "command": mine[0]["command"],
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The summary as a Markdown table."""
    lines = [
        "| configuration | tasks × runs | peak RSS MB (median) | RSS at task 1,000 | RSS at last task "
        "| growth MB (runs) | OS threads at task 1,000 → last (runs) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        growth = ", ".join("-" if g is None else f"{g:+.1f}" for g in r["all_growth_mb"])
        first = "-" if r["rss_first_mb"] is None else f"{r['rss_first_mb']:.1f}"
        last = "-" if r["rss_last_mb"] is None else f"{r['rss_last_mb']:.1f}"
        threads = ", ".join(f"{a} → {b}" for a, b in r["all_threads"] if a is not None)
        lines.append(
            f"| {r['config']} | {r['tasks']} × {r['runs']} | **{r['peak_rss_mb']:.1f}** | {first} | {last} "
            f"| {growth} | {threads or '-'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the memory sitting, print the table, save the JSON."""
    exit_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench memory", description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--broker", default="rabbitmq", choices=["rabbitmq", "redis", "filesystem"])
    parser.add_argument("--configs", nargs="+", default=["default"])
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="another checkout: NAME@baseline runs its code")
    parser.add_argument("--name", default="memory")
    args = parser.parse_args(argv)
    records = sitting(
        tasks=args.tasks,
        runs=args.runs,
        latency_ms=args.latency_ms,
        broker_kind=args.broker,
        configs=args.configs,
        checkouts={"baseline": args.baseline} if args.baseline else None,
    )
    rows = summarize(records)
    print(table(rows))
    print(f"(results in {save_results(args.name, {'records': records, 'summary': rows})})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
