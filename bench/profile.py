"""Where a worker's CPU goes: py-spy on a worker draining a pre-filled queue, summarized.

    python -m bench profile [--config default-x1] [--tasks 12000] [--broker rabbitmq]
                            [--latency-ms 50] [--rate 250] [--pyspy PATH]

The worker drains ``--tasks`` tasks as in ``python -m bench throughput``; py-spy is
attached to its whole process tree (``--subprocesses``) once 200 requests have
arrived and stopped when 200 are left, so that neither start-up nor the tail is in the
profile. It samples the thread holding the GIL (``--gil``): at 50 ms a worker process
is bound by its one core, so a share of those samples is a share of the CPU per task.

The raw stacks are saved under bench/results/; the summary gives each stack's share to
the innermost frame that belongs to a known part (HTTP, the broker's consumer, Celery's
trace, validation, the state store, logging, our own code), then the frames that cost
the most by themselves and by what they call.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from .common import RESULTS, EmulatorProcess, exit_on_sigterm, isolated_broker, load_average, sendx_env
from .drain import spawn
from .queueing import fill, purge
from .stores import expand, reset_state
from .workers import config

__all__ = ["PARTS", "main", "summarize"]

# (part, folders or files), the innermost frame that belongs to one decides; py-spy names
# files relative to their sys.path entry ("requests/adapters.py", "logging/__init__.py").
_PART_PATHS = [
    ("logging", r"logging/__init__\.py|sendx_worker/logs\.py|celery/utils/log\.py"),
    ("validation (marshmallow, schemas)", r"marshmallow/|sendx_worker/schemas/"),
    ("state store (ordering)", r"redis/|psycopg|sqlite3/|sendx_worker/state/|sendx_worker/ordering/"),
    ("HTTP (requests, urllib3, http.client)", r"requests/|urllib3/|http/client\.py|email/"),
    ("our code (tasks, client, worker)", r"sendx_worker/"),
    ("Celery trace and pool", r"celery/app/trace\.py|celery/concurrency/|celery/app/task\.py"),
    ("broker consumer (py-amqp, kombu, Celery's consumer)", r"amqp/|kombu/|celery/worker/|vine/|billiard/"),
    ("threading, queues", r"threading\.py|queue\.py|concurrent/futures/"),
]
PARTS: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(rf"\((?:.*/)?(?:{paths})")) for name, paths in _PART_PATHS
]


def _frames(line: str) -> tuple[list[str], int]:
    stack, _, count = line.rstrip().rpartition(" ")
    return stack.split(";"), int(count)


def summarize(raw: str, *, top: int = 25) -> str:
    """A Markdown summary of py-spy's ``--format raw`` output."""
    parts: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            frames, count = _frames(line)
        except ValueError:
            continue
        total += count
        code = [frame for frame in frames if "(" in frame and ".py:" in frame]
        part = next(
            (name for frame in reversed(code) for name, pattern in PARTS if pattern.search(frame)),
            "other (interpreter, unattributed)",
        )
        parts[part] += count
        if code:
            own[_short(code[-1])] += count
        for frame in {_short(frame) for frame in code}:
            inclusive[frame] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "| part | share |", "|---|---:|"]
    lines += [f"| {name} | {count * 100 / total:.1f} % |" for name, count in parts.most_common()]
    lines += ["", "| by itself | share |", "|---|---:|"]
    lines += [f"| `{name}` | {count * 100 / total:.1f} % |" for name, count in own.most_common(top)]
    lines += ["", "| with what it calls | share |", "|---|---:|"]
    lines += [f"| `{name}` | {count * 100 / total:.1f} % |" for name, count in inclusive.most_common(top * 2)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    # "send (/x/site-packages/requests/adapters.py:600)" -> "send (requests/adapters.py)"
    match = re.match(r"(.*) \((.*?):\d+\)$", frame)
    if match is None:
        return frame
    name, path = match.groups()
    path = re.sub(r".*/(site-packages|lib/python3\.\d+|wt/[^/]+|main)/", "", path)
    return f"{name} ({path})"


def _wait_for(emulator: EmulatorProcess, seen: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = int(emulator.stats()["requests"])
        if count >= seen or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    """Profile one configuration's drain; print the summary, save the raw stacks."""
    exit_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench profile", description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="default-x1")
    parser.add_argument("--tasks", type=int, default=12000)
    parser.add_argument("--broker", default="rabbitmq", choices=["rabbitmq", "redis", "filesystem"])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--pyspy", default=shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"))
    parser.add_argument("--name", default="profile")
    args = parser.parse_args(argv)
    spec = config(args.config)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{args.name}-{args.config}-{time.strftime('%Y%m%dT%H%M%S')}.txt"
    print(f"profile: {args.config} on {args.broker}, {args.tasks} tasks, load {load_average()}", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="sendx-bench-profile-") as logs,
        isolated_broker(args.broker) as broker,
        EmulatorProcess(args.latency_ms) as emulator,
    ):
        purge(spec, broker)
        env = sendx_env(broker, emulator) | expand(dict(spec.env), broker.data_dir)
        reset_state(env)
        fill(spec, broker, args.tasks)
        emulator.reset()
        workers = spawn(spec.commands(), env, Path(logs), f"profile-{spec.name}")
        try:
            _wait_for(emulator, 200, 120)
            command = [args.pyspy, "record", "--pid", str(workers.processes[0].pid), "--subprocesses"]
            command += ["--gil", "--nonblocking", "--rate", str(args.rate), "--format", "raw", "-o", str(out)]
            spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _wait_for(emulator, args.tasks - 200, 120 + args.tasks / 5)
            spy.send_signal(signal.SIGINT)
            _, errors = spy.communicate(timeout=60)
        finally:
            workers.stop()
    if not out.exists():
        print(f"py-spy wrote nothing: {errors.decode(errors='replace')[-2000:]}")
        return 1
    print(summarize(out.read_text()))
    print(f"(raw stacks in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
