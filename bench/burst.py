"""What the per-contact lease costs: a burst of updates to one contact against the same updates to many.

    python -m bench burst [--updates 100] [--runs 3] [--latency-ms 50] [--broker rabbitmq]
                          [--processes 1]

Each run queues ``--updates`` identifies, each adding a tag of its own (so none supersedes
another and every one must reach SendX), stamped in order, then starts the default
worker (``--processes N``) and times the drain at the emulator, in two shapes:

  one-contact   every update for the same e-mail: the lease lets one through at a time,
                the others wait for it (up to the gate's wait) or are deferred
  many          one update per e-mail: nothing contends (the baseline)

It reports the drain (first to last SendX call), SendX calls per update, the worker
tree's CPU per update over the drain (from the first tenth of the calls to the last),
and checks that the contact ends holding every tag (the order and the count are right,
not only fast).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sendx_worker.stamps import format_stamp, stamp_now

from .common import (
    Broker,
    EmulatorProcess,
    exit_on_sigterm,
    isolated_broker,
    load_average,
    median,
    save_results,
    sendx_env,
)
from .drain import spawn, wait_for_requests
from .queueing import declare_sendx_queue, purge, sendx_app
from .workers import default_worker

__all__ = ["main"]

IDENTIFY_TASK = "sendx.identify_contact"
SHAPES = ("one-contact", "many")
HOT_EMAIL = "burst@example.com"


def _emails(shape: str, updates: int) -> list[str]:
    return [HOT_EMAIL] * updates if shape == "one-contact" else [f"burst{n}@example.com" for n in range(updates)]


def _fill(broker: Broker, emails: list[str]) -> None:
    """One identify per e-mail in ``emails``, each adding its own tag, stamped in queue order."""
    app = sendx_app(broker)
    try:
        declare_sendx_queue(app)
        with app.producer_or_acquire() as producer:
            for number, email in enumerate(emails):
                payload = {"email": email, "tags": [f"burst-{number}"]}
                kwargs = {"payload": payload, "occurred_at": format_stamp(stamp_now())}
                app.send_task(IDENTIFY_TASK, kwargs=kwargs, producer=producer)
    finally:
        app.close()


def _run(
    shape: str, updates: int, processes: int, broker: Broker, emulator: EmulatorProcess, logs: Path
) -> dict[str, Any]:
    spec = default_worker(processes)
    purge(spec, broker)
    emails = _emails(shape, updates)
    _fill(broker, emails)
    emulator.reset()
    started = time.monotonic()
    workers = spawn(spec.commands(), sendx_env(broker, emulator), logs, f"burst-{shape}")
    try:
        drain = wait_for_requests(emulator, updates, workers, timeout=120 + updates, stall_s=30)
    finally:
        workers.stop()
    wanted = {f"burst-{n}" for n in range(updates)}
    held = set()
    for email in set(emails):
        held |= set(emulator.contact(email).get("tags", []))
    return {
        "shape": shape,
        "updates": updates,
        "processes": processes,
        "drain_s": drain.seconds,
        "start_to_last_s": round(time.monotonic() - started, 2),
        "sendx_calls_per_update": round(drain.count / updates, 3),
        "statuses": drain.statuses,
        "cpu_ms_per_update": drain.cpu_ms_per_task,
        "every_tag_held": held >= wanted,
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench burst", description=__doc__.split("\n")[0])
    p.add_argument("--updates", type=int, default=100)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--latency-ms", type=float, default=50)
    p.add_argument("--broker", default="rabbitmq", choices=["rabbitmq", "redis", "filesystem"])
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--name", default="burst", help="names the results file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    exit_on_sigterm()
    records = []
    load_before = load_average()
    with (
        tempfile.TemporaryDirectory(prefix="sendx-bench-burst-") as logs,
        isolated_broker(args.broker) as broker,
        EmulatorProcess(args.latency_ms) as emulator,
    ):
        for run in range(1, args.runs + 1):
            for shape in SHAPES:
                record = {**_run(shape, args.updates, args.processes, broker, emulator, Path(logs)), "run": run}
                records.append(record)
                print(record, flush=True)
    print("\n| shape | drain s (median) | CPU ms per update (median) | SendX calls per update | every tag held |")
    print("|---|---|---|---|---|")
    for shape in SHAPES:
        mine = [r for r in records if r["shape"] == shape]
        print(
            f"| {shape} | {median(r['drain_s'] for r in mine)} | {median(r['cpu_ms_per_update'] for r in mine)} "
            f"| {max(r['sendx_calls_per_update'] for r in mine)} | {all(r['every_tag_held'] for r in mine)} |"
        )
    path = save_results(
        args.name,
        {"broker": args.broker, "latency_ms": args.latency_ms, "load_before": load_before, "records": records},
    )
    print(f"saved {path}")
    return 0 if all(r["every_tag_held"] for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
