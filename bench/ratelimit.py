"""SendX limited to R requests/s under a backlog: the rate the fleet delivers, and the 429s it draws.

    python -m bench ratelimit [--rate 200] [--burst B] [--count 6000]
                              [--broker rabbitmq|redis|filesystem] [--processes 2] [--latency-ms 50]
                              [--env NAME=VALUE ...]

The emulator runs a token bucket of ``rate`` requests/s (``--rate-limit``; burst one
second's worth unless given) and answers 429 with ``Retry-After`` past it. ``count``
messages for distinct contacts are queued, then ``sendx-worker worker --processes 2``
drains them. Reported: the delivered rate (200s/s over the middle 80 % of the
deliveries) against ``rate``, the share of 429s among every request SendX received
(over the whole run, and over that middle window), dead letters, lost messages.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from .common import exit_on_sigterm, isolated_broker, load_average, save_results
from .controlled_emulator import ControlledEmulator
from .drain import steady_rate
from .fleet import DeadLetters, add_worker_arguments, lost_text, payloads, start_workers, wait_for_outcomes
from .queueing import fill_payloads

__all__ = ["main", "run"]

_TRIM = 0.1  # the first and last tenth of the deliveries: start-up and the tail of retries


def run(
    *,
    rate: float,
    burst: float | None,
    count: int,
    broker_kind: str,
    processes: int,
    latency_ms: float,
    env: list[str],
    timeout_s: float,
) -> dict[str, Any]:
    """One sitting; the figures as a dict."""
    with (
        tempfile.TemporaryDirectory(prefix="sendx-bench-ratelimit-") as scratch,
        isolated_broker(broker_kind) as broker,
        ControlledEmulator(latency_ms, rate_limit=rate, rate_limit_burst=burst) as emulator,
    ):
        dead_letters = DeadLetters(broker)
        load_before = load_average()
        fill_payloads(broker, payloads("limited", count))
        workers, command = start_workers(broker, emulator, processes, env, Path(scratch), "ratelimit")
        try:
            _, dead, timed_out = wait_for_outcomes(
                emulator, workers, ok_before=0, count=count, dead_letters=dead_letters.count, timeout=timeout_s
            )
        finally:
            workers.stop()
            dead_letters.close()
        log = emulator.log()
        stats = emulator.stats()
    delivered = sorted(at for at, status, applied, _ in log if applied and status == 200)
    distinct = {email for _, _, applied, email in log if applied}
    low, high = _middle(delivered)
    middle = [status for at, status, _, _ in log if low <= at <= high]
    throttled = int(stats["rate_limited"])
    requests = int(stats["requests"])
    delivered_rate = steady_rate([{"timestamp": at} for at in delivered], trim=_TRIM)
    return {
        "rate_limit": rate,
        "burst": burst,
        "messages": count,
        "delivered": len(distinct),
        "delivered_per_s": delivered_rate,
        "delivered_vs_limit": round(delivered_rate / rate, 3) if delivered_rate else None,
        "requests": requests,
        "answered_429": throttled,
        "share_429": round(throttled / requests, 3) if requests else None,
        "share_429_middle": round(middle.count(429) / len(middle), 3) if middle else None,
        "requests_per_delivery": round(requests / len(distinct), 2) if distinct else None,
        "seconds": round(delivered[-1] - delivered[0], 1) if len(delivered) > 1 else None,
        "dead_lettered": dead,
        "lost": None if timed_out else max(count - len(distinct) - dead, 0),
        "undelivered_at_timeout": count - len(distinct) - dead if timed_out else 0,
        "statuses": stats["by_status"],
        "broker": broker_kind,
        "processes": processes,
        "latency_ms": latency_ms,
        "worker_command": command,
        "load_before": load_before,
        "load_after": load_average(),
    }


def _middle(stamps: list[float]) -> tuple[float, float]:
    if len(stamps) < 20:
        return (stamps[0], stamps[-1]) if stamps else (0.0, 0.0)
    return stamps[int(len(stamps) * _TRIM)], stamps[int(len(stamps) * (1 - _TRIM)) - 1]


def table(records: list[dict[str, Any]]) -> str:
    """The figures as a Markdown table."""
    lines = [
        "| limit | messages | delivered/s (vs limit) | 429s / requests (middle) | requests per delivery "
        "| dead letters | lost |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        lost = lost_text(r)
        lines.append(
            f"| {r['rate_limit']:g}/s | {r['messages']:,} | {r['delivered_per_s']} ({r['delivered_vs_limit']}) "
            f"| {r['share_429']} ({r['share_429_middle']}) | {r['requests_per_delivery']} "
            f"| {r['dead_lettered']} | {lost} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run once; print the table; save the record."""
    parser = argparse.ArgumentParser(prog="python -m bench ratelimit", description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="the emulator's limit, requests/s (default 200)")
    parser.add_argument("--burst", type=float, default=None, help="the bucket's size (default one second's worth)")
    parser.add_argument("--count", type=int, default=6000, help="messages queued (default 6000: 30 s at 200/s)")
    parser.add_argument("--timeout-s", type=float, default=900.0, help="give up after (default 900)")
    parser.add_argument("--name", default="ratelimit", help="results file name prefix")
    add_worker_arguments(parser)
    args = parser.parse_args(argv)
    exit_on_sigterm()
    record = run(
        rate=args.rate,
        burst=args.burst,
        count=args.count,
        broker_kind=args.broker,
        processes=args.processes,
        latency_ms=args.latency_ms,
        env=args.env,
        timeout_s=args.timeout_s,
    )
    print(record, flush=True)
    print(table([record]))
    path = save_results(args.name, {"records": [record]})
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
