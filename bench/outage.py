"""SendX down for a while under a backlog: what the fleet sends at it, and how fast it drains after.

    python -m bench outage [--count 5000] [--outage-s 60] [--kinds refuse 503]
                           [--broker rabbitmq|redis|filesystem] [--processes 2] [--latency-ms 50]
                           [--env NAME=VALUE ...]

For each kind, in one sitting with the same two worker processes
(``sendx-worker worker --processes 2``):

1. normal: ``count`` messages are queued, then drained by the workers with SendX up; their
   steady rate is the normal rate; the workers are stopped;
2. outage: ``count`` more messages are queued (with no worker running: publishing them
   while workers churn retries took minutes, which would stretch the outage), the emulator
   goes down (``refuse``: its port refuses connections; ``503``: it answers every call
   503), the workers start again, and it stays down ``outage-s`` seconds from then (their
   start-up, a few seconds, is part of the outage);
3. recovery: it comes back; the run waits until every message is delivered or dead-lettered.

Reported: the requests that reached the emulator during the outage (none can reach a
refusing port, so the failed calls the workers logged as ``retry scheduled`` are counted
too), dead letters, lost messages (neither delivered nor dead-lettered), the time from
recovery to the first delivery and to the last, and the drain rate after recovery (from
the first delivery to the last) against the normal rate.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import exit_on_sigterm, isolated_broker, load_average, save_results
from .controlled_emulator import ControlledEmulator
from .drain import steady_rate
from .fleet import (
    DeadLetters,
    add_worker_arguments,
    lost_text,
    payloads,
    retry_lines,
    start_workers,
    wait_for_outcomes,
)
from .queueing import fill_payloads

__all__ = ["main", "run"]

KINDS: dict[str, dict[str, Any]] = {"refuse": {"outage": "refuse"}, "503": {"error_rate": 1.0, "error_status": 503}}
HEALED: dict[str, dict[str, Any]] = {"refuse": {"outage": None}, "503": {"error_rate": 0.0}}


def run(
    kind: str,
    *,
    count: int,
    outage_s: float,
    broker_kind: str,
    processes: int,
    latency_ms: float,
    env: list[str],
    drain_timeout_s: float,
) -> dict[str, Any]:
    """One sitting of one kind of outage; the figures as a dict."""
    with (
        tempfile.TemporaryDirectory(prefix="sendx-bench-outage-") as scratch,
        isolated_broker(broker_kind) as broker,
        ControlledEmulator(latency_ms) as emulator,
    ):
        dead_letters = DeadLetters(broker)
        load_before = load_average()
        fill_payloads(broker, payloads("normal", count))
        workers, command = start_workers(broker, emulator, processes, env, Path(scratch), f"outage-{kind}-normal")
        try:
            ok, dead, timed_out = wait_for_outcomes(
                emulator, workers, ok_before=0, count=count, dead_letters=dead_letters.count, timeout=120 + count / 5
            )
            if timed_out or dead:
                raise RuntimeError(f"the normal drain did not complete: {ok} delivered, {dead} dead-lettered")
        finally:
            workers.stop()
        ok_before = int(emulator.stats()["by_status"].get("200", 0))
        fill_payloads(broker, payloads("outage", count))
        emulator.set_faults(**KINDS[kind])
        down_at = time.time()
        workers, _ = start_workers(broker, emulator, processes, env, Path(scratch), f"outage-{kind}")
        try:
            time.sleep(max(down_at + outage_s - time.time(), 0))  # the scenario's length, not a synchronisation
            up_at = time.time()
            emulator.set_faults(**HEALED[kind])
            ok, dead, timed_out = wait_for_outcomes(
                emulator,
                workers,
                ok_before=ok_before,
                count=count,
                dead_letters=dead_letters.count,
                timeout=drain_timeout_s,
            )
            failed_calls = retry_lines(workers.logs, down_at, up_at)
        finally:
            workers.stop()
            dead_letters.close()
        log = emulator.log()
    return _figures(
        kind=kind,
        log=log,
        count=count,
        down_at=down_at,
        up_at=up_at,
        dead=dead,
        timed_out=timed_out,
        failed_calls=failed_calls,
        extra={
            "outage_s": outage_s,
            "outage_measured_s": round(up_at - down_at, 1),
            "broker": broker_kind,
            "processes": processes,
            "latency_ms": latency_ms,
            "worker_command": command,
            "load_before": load_before,
            "load_after": load_average(),
        },
    )


def _figures(
    *,
    kind: str,
    log: list[tuple[float, int | None, bool, str | None]],
    count: int,
    down_at: float,
    up_at: float,
    dead: int,
    timed_out: bool,
    failed_calls: int,
    extra: dict[str, Any],
) -> dict[str, Any]:
    normal = [{"timestamp": at} for at, status, _, email in log if status == 200 and _is(email, "normal")]
    normal_rate = steady_rate(normal)
    during = [status for at, status, _, _ in log if down_at <= at < up_at]
    delivered = [(at, email) for at, status, applied, email in log if applied and _is(email, "outage")]
    distinct = {email for _, email in delivered}
    after = sorted(at for at, _ in delivered if at >= up_at)
    first = after[0] - up_at if after else None
    last = after[-1] - up_at if after else None
    rate = round((len(after) - 1) / (after[-1] - after[0]), 1) if len(after) > 1 and after[-1] > after[0] else None
    return {
        "kind": kind,
        "messages": count,
        "reached_during_outage": len(during),
        "failed_calls_during_outage": failed_calls,
        "requests_for_outage_messages": sum(1 for _, _, _, email in log if _is(email, "outage")),
        "delivered": len(distinct),
        "delivered_twice_or_more": len(delivered) - len(distinct),
        "delivered_during_outage": sum(1 for at, _ in delivered if at < up_at),
        "dead_lettered": dead,
        "lost": None if timed_out else max(count - len(distinct) - dead, 0),
        "undelivered_at_timeout": count - len(distinct) - dead if timed_out else 0,
        "recovery_to_first_delivery_s": None if first is None else round(first, 2),
        "recovery_to_drained_s": None if last is None else round(last, 2),
        "drain_per_s_after_recovery": rate,
        "normal_per_s": normal_rate,
        "drain_vs_normal": round(rate / normal_rate, 2) if rate and normal_rate else None,
        **extra,
    }


def _is(email: str | None, prefix: str) -> bool:
    return email is not None and email.startswith(prefix)


def table(records: list[dict[str, Any]]) -> str:
    """The figures as a Markdown table, one row per kind."""
    lines = [
        "| outage | messages | reached SendX during it | failed calls logged during it | dead letters | lost "
        "| recovery → first delivery | recovery → drained | drain after / normal |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in records:
        lost = lost_text(r)
        lines.append(
            f"| {r['kind']} {r['outage_s']:g} s | {r['messages']:,} | {r['reached_during_outage']:,} "
            f"| {r['failed_calls_during_outage']:,} | {r['dead_lettered']} | {lost} "
            f"| {_s(r['recovery_to_first_delivery_s'])} | {_s(r['recovery_to_drained_s'])} "
            f"| {r['drain_per_s_after_recovery']}/s / {r['normal_per_s']}/s = {r['drain_vs_normal']} |"
        )
    return "\n".join(lines)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def main(argv: list[str] | None = None) -> int:
    """Run each kind once; print the table; save the records."""
    parser = argparse.ArgumentParser(prog="python -m bench outage", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="messages queued for the outage (default 5000)")
    parser.add_argument("--outage-s", type=float, default=60.0, help="how long SendX is down (default 60)")
    parser.add_argument("--kinds", nargs="+", choices=sorted(KINDS), default=["refuse", "503"])
    parser.add_argument("--drain-timeout-s", type=float, default=900.0, help="after recovery (default 900)")
    parser.add_argument("--name", default="outage", help="results file name prefix")
    add_worker_arguments(parser)
    args = parser.parse_args(argv)
    exit_on_sigterm()
    records = []
    for kind in args.kinds:
        record = run(
            kind,
            count=args.count,
            outage_s=args.outage_s,
            broker_kind=args.broker,
            processes=args.processes,
            latency_ms=args.latency_ms,
            env=args.env,
            drain_timeout_s=args.drain_timeout_s,
        )
        records.append(record)
        print(record, flush=True)
    print(table(records))
    path = save_results(args.name, {"records": records})
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
