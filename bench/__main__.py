"""``python -m bench COMMAND [options]``: sendx-worker's benchmarks.

commands:
  throughput   tasks/s of worker configurations draining a pre-filled queue, vs the references
  enqueue      identify() calls/s vs bare apply_async on the same broker
  large        identify() with a 60 KB custom field value, the most tags, a payload near the limit
  memory       the default worker's peak RSS, and its RSS at task 1,000 vs the last task
  profile      where a worker's CPU goes: py-spy over a drain, summarized by part
  heap         whether the worker's Python heap grows from one interval of tasks to the next
  latency      enqueue-to-SendX p50/p99 at a steady rate well below capacity
  state-size   the state store's bytes per contact on each backend, and for a million contacts
  burst        what the per-contact lease costs: 100 updates to one contact vs to 100 contacts
  gate         the CPU of per-contact ordering alone (the store's begin and finish), 1 and 64 threads
  emulator     the emulator's own ceiling (bench.emulator_ceiling)
  outage       SendX down under a backlog: requests sent at it, dead letters, losses, the drain after
  ratelimit    SendX limited to R requests/s: the delivered rate against R, the share of 429s
  plot         docs/bench/throughput.png from the throughput results
  cluster      on a private 3-node RabbitMQ cluster: throughput with 1, 2, 4 processes, node loss
  smoke        every benchmark once, small; exits 0 if they all ran (asserts no speed)

``python -m bench COMMAND --help`` for each command's options. Results are printed as
Markdown tables and saved as JSON under bench/results/.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from .common import RESULTS

__all__ = ["main", "smoke"]


def _commands() -> dict[str, Callable[[list[str] | None], int]]:
    from . import (
        burst,
        cluster,
        emulator_ceiling,
        enqueue,
        gate,
        heap,
        large,
        latency,
        memory,
        outage,
        plot,
        profile,
        ratelimit,
        state_size,
        throughput,
    )

    return {
        "throughput": throughput.main,
        "enqueue": enqueue.main,
        "large": large.main,
        "memory": memory.main,
        "heap": heap.main,
        "profile": profile.main,
        "latency": latency.main,
        "emulator": emulator_ceiling.main,
        "plot": plot.main,
        "state-size": state_size.main,
        "burst": burst.main,
        "gate": gate.main,
        "cluster": cluster.main,
        "outage": outage.main,
        "ratelimit": ratelimit.main,
    }


def smoke(argv: list[str] | None = None) -> int:
    """Run every benchmark once in a small configuration; 1 if any of them crashed."""
    commands = _commands()
    run = f"smoke-throughput-{os.getpid()}"  # this run's results, apart from any other running at once
    with tempfile.TemporaryDirectory(prefix="sendx-bench-smoke-") as scratch:
        plot_out = str(Path(scratch) / "throughput.png")
        steps: list[tuple[str, list[str]]] = [
            # Each broker once, with the reference.
            ("throughput", ["--tasks", "200", "--runs", "1", "--brokers", "rabbitmq", "redis", "filesystem",
                            "--configs", "default", "--references", "reference", "--strict", "--name", run]),
            # The other kinds of worker, and the peers, once each on RabbitMQ.
            ("throughput", ["--tasks", "200", "--runs", "1", "--configs", "naive", "naive-threads", "default-x2",
                            "gevent-64", "prefork-4", "dramatiq-64", "--references", "reference", "httpclient",
                            "--strict", "--name", run]),
            ("enqueue", ["--calls", "200", "--runs", "1", "--name", "smoke-enqueue"]),
            ("large", ["--calls", "3", "--runs", "1", "--no-old", "--name", "smoke-large"]),
            ("memory", ["--tasks", "300", "--runs", "1", "--name", "smoke-memory"]),
            ("heap", ["--tasks", "300", "--marks", "100", "200", "300", "--name", "smoke-heap"]),
            ("latency", ["--rate", "20", "--seconds", "5", "--runs", "1", "--strict", "--name", "smoke-latency"]),
            ("emulator", ["--requests", "1000", "--threads", "8"]),
            ("state-size", ["--contacts", "100", "--name", "smoke-state-size"]),
            ("burst", ["--updates", "10", "--runs", "1", "--name", "smoke-burst"]),
            ("gate", ["--deliveries", "100", "--runs", "1", "--threads", "1", "8", "--latency-ms", "5",
                      "--name", "smoke-gate"]),
            # Short retries and breaker intervals: the drain after a 6 s outage takes seconds, not minutes.
            ("outage", ["--count", "100", "--outage-s", "6", "--kinds", "refuse", "503", "--processes", "1",
                        "--env", "SENDX_RETRY_BASE_S=1", "--env", "SENDX_RETRY_CAP_S=2",
                        "--env", "SENDX_BREAKER_OPEN_S=1", "--env", "SENDX_BREAKER_OPEN_MAX_S=2",
                        "--name", "smoke-outage"]),
            ("ratelimit", ["--rate", "50", "--count", "100", "--processes", "1", "--name", "smoke-ratelimit"]),
            ("plot", []),  # its arguments are the results the throughput steps have just written
        ]  # fmt: skip
        failed = []
        started = time.monotonic()
        for number, (name, args) in enumerate(steps, 1):
            if name == "plot":
                args = [*map(str, sorted(RESULTS.glob(f"{run}-*.json"))), "--out", plot_out]
            print(f"== smoke {number}/{len(steps)}: python -m bench {name} {' '.join(args)}", flush=True)
            step_started = time.monotonic()
            try:
                code = commands[name](args)
            except BaseException as exc:  # SystemExit from argparse included: a crash is a crash
                if isinstance(exc, KeyboardInterrupt):
                    raise
                traceback.print_exc()
                code = 1
            print(f"== {name}: {'ok' if code == 0 else f'FAILED ({code})'} in {time.monotonic() - step_started:.0f} s")
            if code != 0:
                failed.append(name)
        print(f"== smoke: {len(steps) - len(failed)}/{len(steps)} ran in {time.monotonic() - started:.0f} s", end="")
        print(f"; failed: {', '.join(failed)}" if failed else "")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the benchmark named by the first argument."""
    args = sys.argv[1:] if argv is None else argv
    commands = {**_commands(), "smoke": smoke}
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    if args[0] not in commands:
        print(f"python -m bench: unknown command {args[0]!r}; one of {', '.join(commands)}", file=sys.stderr)
        return 2
    return commands[args[0]](args[1:])


if __name__ == "__main__":
    sys.exit(main())
