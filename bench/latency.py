"""Latency: enqueue-to-SendX at a steady rate well below capacity.

    python -m bench latency [--rate 100] [--seconds 30] [--latency-ms 50] [--broker rabbitmq]
                            [--runs 1] [--configs default naive-threads]

A worker is started and warmed up (one task through); then this process enqueues
``rate`` tasks a second for ``seconds`` on a fixed schedule, noting the wall-clock time
just before each enqueue call, and the emulator notes when each request arrived (its
``/_emulator/requests`` log). Latency = arrival - enqueue, per task, matched by e-mail.
sendx-worker is fed with ``identify()``; the reference, ``naive-threads``, is the
hand-written task (``requests.post``, Celery's defaults) on the same threads pool, fed
with ``send_task``, so the difference is what our reliability settings cost in latency.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery

from sendx_worker import identify

from . import naive_app
from .common import (
    Broker,
    EmulatorProcess,
    exit_on_sigterm,
    identify_body,
    isolated_broker,
    load_average,
    median,
    save_results,
    sendx_env,
)
from .drain import spawn, wait_for_requests
from .queueing import declare_sendx_queue, naive_producer_app, purge, sendx_app
from .workers import WorkerSpec, config

__all__ = ["main", "measure"]


def _enqueuer(spec: WorkerSpec, broker: Broker, emulator: EmulatorProcess) -> tuple[Celery, Callable[[str], object]]:
    if spec.dramatiq:
        raise ValueError("the latency benchmark has no Dramatiq producer; measure Dramatiq with throughput")
    if spec.naive:
        naive = naive_producer_app(broker)
        return naive, lambda email: naive.send_task(naive_app.TASK, kwargs={"payload": identify_body(0, email=email)})
    app = sendx_app(broker, emulator.base_url)
    declare_sendx_queue(app)
    return app, lambda email: identify(
        email, first_name="Bench", tags=["bench"], custom_fields={"Visits": "++1"}, app=app
    )


def measure(
    spec: WorkerSpec, broker: Broker, emulator: EmulatorProcess, *, rate: float, seconds: float, log_dir: Path, tag: str
) -> dict[str, Any]:
    """Start ``spec``'s worker, warm it up, then enqueue at ``rate``/s and time each task to the emulator."""
    purge(spec, broker)
    app, enqueue = _enqueuer(spec, broker, emulator)
    workers = spawn(spec.commands(), sendx_env(broker, emulator), log_dir, f"latency-{spec.name}")
    try:
        emulator.reset()
        enqueue(f"warmup-{tag}@example.com")
        wait_for_requests(emulator, 1, workers, timeout=120)
        emulator.reset()
        total = int(rate * seconds)
        sent: dict[str, float] = {}
        call_ms: list[float] = []
        load = load_average()
        started = time.monotonic()
        for number in range(total):
            pause = started + number / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            email = f"lat-{tag}-{number}@example.com"
            sent[email] = time.time()
            enqueue(email)
            call_ms.append((time.time() - sent[email]) * 1000)
        achieved = total / (time.monotonic() - started)
        wait_for_requests(emulator, total, workers, timeout=120 + seconds)
        log = emulator.requests_log()
    finally:
        workers.stop()
        app.close()
    latencies = sorted(
        (entry["timestamp"] - sent[entry["body"]["email"]]) * 1000
        for entry in log
        if isinstance(entry.get("body"), dict) and entry["body"].get("email") in sent
    )
    if len(latencies) < total:
        raise RuntimeError(f"matched {len(latencies)} of {total} requests to their enqueue time")
    centiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "config": spec.name,
        "broker": broker.kind,
        "latency_ms": emulator.latency_ms,
        "rate": rate,
        "achieved_rate": round(achieved, 1),
        "tasks": total,
        "p50_ms": round(centiles[49], 1),
        "p90_ms": round(centiles[89], 1),
        "p99_ms": round(centiles[98], 1),
        "max_ms": round(latencies[-1], 1),
        "enqueue_call_p50_ms": round(statistics.median(call_ms), 2),
        "load": load,
        "command": spec.shown(),
    }


def sitting(
    *,
    rate: float,
    seconds: float,
    latency_ms: float,
    broker_kind: str,
    configs: list[str],
    runs: int,
    echo: bool = True,
    keep_going: bool = True,
) -> list[dict[str, Any]]:
    """``runs`` rounds over ``configs`` on one broker and one emulator; a stalled configuration is noted."""
    records = []
    with (
        tempfile.TemporaryDirectory(prefix="sendx-bench-logs-") as logs,
        isolated_broker(broker_kind) as broker,
        EmulatorProcess(latency_ms) as emulator,
    ):
        for run in range(1, runs + 1):
            for name in configs:
                tag = f"{run}-{name}"
                try:
                    record = measure(
                        config(name), broker, emulator, rate=rate, seconds=seconds, log_dir=Path(logs), tag=tag
                    )
                except RuntimeError as exc:  # a stall is a result: note it and go on
                    if not keep_going:
                        raise
                    error = str(exc).splitlines()[0]
                    records.append({"config": name, "run": run, "error": error, "load": load_average()})
                    if echo:
                        print(f"  run {run} {name:14} FAILED: {error}", flush=True)
                    continue
                records.append({**record, "run": run})
                if echo:
                    print(
                        f"  run {run} {name:14} p50 {record['p50_ms']} ms, p90 {record['p90_ms']} ms, "
                        f"p99 {record['p99_ms']} ms, max {record['max_ms']} ms "
                        f"(rate {record['achieved_rate']}/s, enqueue call {record['enqueue_call_p50_ms']} ms, "
                        f"load {record['load']})",
                        flush=True,
                    )
    return records


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians per configuration."""
    rows = []
    for name in dict.fromkeys(r["config"] for r in records):
        failed = [r["error"] for r in records if r["config"] == name and "error" in r]
        mine = [r for r in records if r["config"] == name and "error" not in r]
        if not mine:
            rows.append({"config": name, "runs": 0, "failures": failed})
            continue
        row: dict[str, Any] = {"config": name, "runs": len(mine), "tasks": mine[0]["tasks"], "rate": mine[0]["rate"]}
        row["failures"] = failed
        for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "enqueue_call_p50_ms", "achieved_rate", "load"):
            row[key] = median(r[key] for r in mine)
        row["command"] = mine[0]["command"]
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The summary as a Markdown table."""
    lines = [
        "| configuration | rate × tasks × runs | p50 ms | p90 ms | p99 ms | max ms | enqueue call p50 ms | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if not r["runs"]:
            lines.append(f"| {r['config']} | **failed**: {'; '.join(r['failures'])} |" + " - |" * 6)
            continue
        lines.append(
            f"| {r['config']} | {r['rate']:g}/s × {r['tasks']} × {r['runs']} | **{r['p50_ms']:.1f}** | "
            f"{r['p90_ms']:.1f} | **{r['p99_ms']:.1f}** | {r['max_ms']:.1f} | {r['enqueue_call_p50_ms']:.2f} | "
            f"{r['load']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the latency sitting, print the table, save the JSON."""
    exit_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench latency", description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--broker", default="rabbitmq", choices=["rabbitmq", "redis", "filesystem"])
    parser.add_argument("--configs", nargs="+", default=["default", "naive-threads"])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--strict", action="store_true", help="stop at the first stalled or crashed run")
    parser.add_argument("--name", default="latency")
    args = parser.parse_args(argv)
    records = sitting(
        rate=args.rate,
        seconds=args.seconds,
        latency_ms=args.latency_ms,
        broker_kind=args.broker,
        configs=args.configs,
        runs=args.runs,
        keep_going=not args.strict,
    )
    rows = summarize(records)
    print(table(rows))
    print(f"(results in {save_results(args.name, {'records': records, 'summary': rows})})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
