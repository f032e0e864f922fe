"""``python -m bench gate``: the CPU of per-contact ordering alone, without a broker or Celery.

N threads each take deliveries from a shared count; a delivery is an event for a fresh
contact (``user<n>@example.com``), then, with the gate, its turn (the store's begin
script or statement, the plan), a pause of ``--latency-ms`` standing in for SendX, and
``applied()`` (the finish); without the gate, the pause alone. CPU is this process's
user + system time over the loop (every thread), divided by the deliveries; the gate's
cost is the difference. Context switches per delivery come from ``getrusage``.

One thread measures the work the store's calls do; 64 threads (the default pool)
measure it with the GIL shared, where each reply must wake a thread that takes the GIL
back. ``python -m bench throughput`` measures the same cost inside a worker.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import statistics
import threading
import time
import uuid
from typing import Any

from sendx_worker.ordering.gate import OrderingGate
from sendx_worker.ordering.plan import Event
from sendx_worker.stamps import stamp_now
from sendx_worker.state import open_store

from .common import command_line, machine, save_results
from .state_size import fresh_store

__all__ = ["main", "measure"]

LEASE_S = 60.0
KEEP_S = 864_000.0


def _loop(gate: OrderingGate | None, threads: int, deliveries: int, latency_s: float) -> dict[str, float]:
    numbers = itertools.count()
    run = uuid.uuid4().hex[:8]  # fresh contacts in every loop

    def deliver_some() -> None:
        while (number := next(numbers)) < deliveries:
            payload = {"email": f"user{run}{number}@example.com", "tags": ["paid user"], "removeTags": ["trial user"]}
            event = Event(id=uuid.uuid4().hex, operation="track", stamp=stamp_now(), payload=payload)
            if gate is None:
                time.sleep(latency_s)
                continue
            turn = gate.turn(None, event, stamped=True)
            time.sleep(latency_s)
            turn.applied()

    workers = [threading.Thread(target=deliver_some) for _ in range(threads)]
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    after, seconds = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - started
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "cpu_ms_per_delivery": cpu_s * 1000 / deliveries,
        "switches_per_delivery": ((after.ru_nvcsw - before.ru_nvcsw) + (after.ru_nivcsw - before.ru_nivcsw))
        / deliveries,
        "deliveries_per_s": deliveries / seconds,
    }


def measure(kind: str, threads: int, deliveries: int, latency_s: float, runs: int) -> dict[str, Any]:
    """Runs of the loop with the gate on a fresh store of ``kind`` and without it, interleaved."""
    with fresh_store(kind) as url:
        store = open_store(url)
        try:
            gate = OrderingGate(store, lease_s=LEASE_S, keep_s=KEEP_S)
            _loop(gate, min(threads, 8), 50, 0)  # connections made, statements prepared
            on, off = [], []
            for _ in range(runs):
                on.append(_loop(gate, threads, deliveries, latency_s))
                off.append(_loop(None, threads, deliveries, latency_s))
        finally:
            store.close()

    def middle(loops: list[dict[str, float]], key: str) -> float:
        return round(statistics.median(loop[key] for loop in loops), 4)

    return {
        "store": kind,
        "threads": threads,
        "deliveries": deliveries,
        "latency_ms": latency_s * 1000,
        "runs": runs,
        "gate_cpu_ms": middle(on, "cpu_ms_per_delivery"),
        "without_cpu_ms": middle(off, "cpu_ms_per_delivery"),
        "cost_ms": round(
            statistics.median(
                a["cpu_ms_per_delivery"] - b["cpu_ms_per_delivery"] for a, b in zip(on, off, strict=True)
            ),
            4,
        ),
        "cost_runs_ms": [
            round(a["cpu_ms_per_delivery"] - b["cpu_ms_per_delivery"], 4) for a, b in zip(on, off, strict=True)
        ],
        "gate_switches": middle(on, "switches_per_delivery"),
        "without_switches": middle(off, "switches_per_delivery"),
        "gate_per_s": round(middle(on, "deliveries_per_s")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench gate", description=__doc__)
    parser.add_argument("--stores", nargs="+", default=["redis", "postgresql", "sqlite"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 64])
    parser.add_argument("--deliveries", type=int, default=4000)
    parser.add_argument("--latency-ms", type=float, default=50.0, help="the pause standing in for SendX (threads > 1)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--name", default="gate")
    args = parser.parse_args(argv)
    if args.deliveries < 1 or args.runs < 1 or min(args.threads) < 1:
        parser.error("--deliveries, --runs and --threads must be at least 1")
    rows = []
    for kind in args.stores:
        for threads in args.threads:
            # One thread pauses for nothing: it measures the calls alone, and 50 ms each would take minutes.
            latency_s = args.latency_ms / 1000 if threads > 1 else 0.0
            rows.append(measure(kind, threads, args.deliveries, latency_s, args.runs))
    headers = ["store", "threads", "pause ms", "CPU ms/delivery, gate", "without", "**gate's cost ms** (runs)",
               "switches/delivery, gate", "without", "deliveries/s, gate"]  # fmt: skip
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for r in rows:
        cost_runs = ", ".join(f"{value:.3f}" for value in r["cost_runs_ms"])
        print(
            f"| {r['store']} | {r['threads']} | {r['latency_ms']:g} | {r['gate_cpu_ms']:.3f}"
            f" | {r['without_cpu_ms']:.3f}"
            f" | **{r['cost_ms']:.3f}** ({cost_runs}) | {r['gate_switches']:.1f} | {r['without_switches']:.1f}"
            f" | {r['gate_per_s']} |"
        )
    path = save_results(args.name, {"command": command_line(), "machine": machine(), "rows": rows})
    print(f"(results in {path})")
    return 0
