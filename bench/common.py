"""What every benchmark shares: isolated brokers, the emulator process, process trees, results.

Everything measured runs in its own process: the emulator (reusing the approach of
:mod:`bench.emulator_ceiling`), each worker and the reference client. The benchmark
process only fills queues, polls the emulator's ``/_emulator/stats`` and samples the
others' CPU time and memory with psutil.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import requests

# Reused, not rewritten: the emulator subprocess as the ceiling benchmark starts it.
from .emulator_ceiling import KEY, TEAM, _start_emulator, _stop_emulator

__all__ = [
    "KEY",
    "REPO",
    "RESULTS",
    "TEAM",
    "Broker",
    "EmulatorProcess",
    "ProcessTree",
    "Stalled",
    "exit_on_sigterm",
    "identify_body",
    "isolated_broker",
    "load_average",
    "machine",
    "median",
    "save_results",
]

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672"
# Redis databases 10-15 are for tests and benchmarks; 12 is the benchmarks'.
REDIS_URL = "redis://127.0.0.1:6379/12"
BROKERS = ("rabbitmq", "redis", "filesystem")
_DISTINCT_CONTACTS = 5000  # updates as well as creations, as in bench.emulator_ceiling


def identify_body(number: int, *, email: str | None = None) -> dict[str, Any]:
    """The ``number``-th identify body in v1 wire format, the same for every configuration."""
    return {
        "email": email or f"user{number % _DISTINCT_CONTACTS}@example.com",
        "firstName": "Bench",
        "tags": ["bench"],
        "customFields": {"Visits": "++1"},
    }


# ---------------------------------------------------------------- brokers


@dataclass(frozen=True)
class Broker:
    """An isolated broker: ``url`` is None for the embedded (filesystem) one under ``data_dir``."""

    kind: str
    url: str | None
    data_dir: Path

    def env(self) -> dict[str, str]:
        """The environment that points sendx-worker (and the naive app) at this broker."""
        env = {"SENDX_DATA_DIR": str(self.data_dir)}
        if self.url is not None:
            env["CELERY_BROKER_URL"] = self.url
        return env


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


@contextmanager
def isolated_broker(kind: str) -> Iterator[Broker]:
    """A RabbitMQ vhost, Redis database 12, or a temporary folder, removed afterwards."""
    if kind not in BROKERS:
        raise ValueError(f"broker must be one of {', '.join(BROKERS)}, not {kind!r}")
    data_dir = Path(tempfile.mkdtemp(prefix=f"sendx-bench-{kind}-"))
    try:
        if kind == "rabbitmq":
            vhost = f"sendx-bench-{uuid.uuid4().hex[:8]}"
            _rabbitmqctl("add_vhost", vhost)
            try:
                _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
                yield Broker(kind, f"{RABBITMQ_URL}/{vhost}", data_dir)
            finally:
                _rabbitmqctl("delete_vhost", vhost)
        elif kind == "redis":
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            client.flushdb()
            try:
                yield Broker(kind, REDIS_URL, data_dir)
            finally:
                client.flushdb()
                client.close()
        else:
            yield Broker(kind, None, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# ---------------------------------------------------------------- the emulator


class EmulatorProcess:
    """``python -m sendx_worker.emulator`` in its own process (it must not share our GIL)."""

    def __init__(self, latency_ms: float) -> None:
        self.latency_ms = latency_ms
        self.process, self.url = _start_emulator(latency_ms)
        self._http = requests.Session()

    @property
    def base_url(self) -> str:
        """The v1 base URL a worker is pointed at."""
        return f"{self.url}/api/v1"

    def stats(self) -> dict[str, Any]:
        """``{"requests", "first_at", "last_at", "by_status"}``."""
        answer: dict[str, Any] = self._http.get(f"{self.url}/_emulator/stats", timeout=30).json()
        return answer

    def requests_log(self) -> list[dict[str, Any]]:
        """Every logged API request (``timestamp`` is when it arrived), oldest first."""
        answer: list[dict[str, Any]] = self._http.get(f"{self.url}/_emulator/requests", timeout=120).json()
        return answer

    def reset(self) -> None:
        """Forget contacts, the log and the counters."""
        self._http.post(f"{self.url}/_emulator/reset", timeout=30).raise_for_status()

    def cpu_seconds(self) -> float:
        """The emulator's CPU time so far."""
        return ProcessTree([self.process]).cpu_seconds()

    def close(self) -> None:
        """Stop the emulator process."""
        self._http.close()
        _stop_emulator(self.process)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def sendx_env(broker: Broker, emulator: EmulatorProcess) -> dict[str, str]:
    """A clean environment for a worker: our broker, the emulator, the bench credentials."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("SENDX_", "CELERY_"))}
    env.update(broker.env())
    env.update(SENDX_API_KEY=KEY, SENDX_TEAM_ID=TEAM, SENDX_BASE_URL=emulator.base_url)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


# ---------------------------------------------------------------- process trees


@dataclass
class ProcessTree:
    """Processes we started (and their children): CPU time, memory, stopping."""

    processes: list[subprocess.Popen[Any]]
    logs: list[Path] = field(default_factory=list)

    def _members(self) -> list[Any]:
        import psutil

        members = []
        for process in self.processes:
            try:
                root = psutil.Process(process.pid)
                members += [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
        return members

    def cpu_seconds(self) -> float:
        """User + system CPU time of every live member."""
        import psutil

        total = 0.0
        for member in self._members():
            with contextlib.suppress(psutil.Error):  # a child that exited between listing and asking
                times = member.cpu_times()
                total += times.user + times.system
        return total

    def rss_bytes(self) -> int:
        """Summed RSS of every live member (prefork children share pages, so this over-counts)."""
        import psutil

        total = 0
        for member in self._members():
            with contextlib.suppress(psutil.Error):
                total += member.memory_info().rss
        return total

    def exited(self) -> list[int]:
        """Exit codes of the processes that have already exited."""
        return [code for code in (p.poll() for p in self.processes) if code is not None]

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of each process's log, for an error message."""
        tails = []
        for path in self.logs:
            try:
                text = path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            tails.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(tails)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Celery's warm shutdown) each process, SIGKILL after ``timeout``."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def spawn(commands: Sequence[Sequence[str]], env: Mapping[str, str], log_dir: Path, name: str) -> ProcessTree:
    """Start each command at once, stdout and stderr into ``log_dir/name-N.log``."""
    processes, logs = [], []
    for number, command in enumerate(commands):
        path = log_dir / f"{name}-{number}.log"
        with path.open("wb") as sink:
            processes.append(
                subprocess.Popen(list(command), env=dict(env), cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
            )
        logs.append(path)
    return ProcessTree(processes, logs)


# ---------------------------------------------------------------- measuring


@dataclass
class Drain:
    """What the emulator and psutil saw while ``count`` requests arrived."""

    count: int
    seconds: float
    tasks_per_s: float
    cpu_ms_per_task: float | None
    peak_rss_mb: float | None
    statuses: dict[str, int]
    rss_at: dict[int, float] = field(default_factory=dict)


class Stalled(RuntimeError):
    """Raised when requests stop arriving for ``stall_s`` although the tasks are not all done."""


def wait_for_requests(
    emulator: EmulatorProcess,
    count: int,
    tree: ProcessTree | None,
    *,
    timeout: float,
    interval: float = 0.2,
    rss_checkpoints: Iterable[int] = (),
    stall_s: float = 30.0,
) -> Drain:
    """Poll the emulator until it has seen ``count`` requests; sample the tree meanwhile.

    tasks/s is measured from the emulator's first to its last request. The tree's CPU
    time is taken from the first poll that sees a request, so start-up is not counted.
    ``rss_checkpoints``: request counts at which to record the tree's RSS (MB). Raises
    :class:`Stalled` when requests stop arriving for ``stall_s`` after the first one
    (with ``BENCH_PYSPY`` pointing at py-spy, each stalled process's stacks are saved).
    """
    deadline = time.monotonic() + timeout
    checkpoints = sorted(rss_checkpoints)
    cpu_start: tuple[int, float] | None = None
    peak = 0
    rss_at: dict[int, float] = {}
    progress = (-1, time.monotonic())
    while True:
        stats = emulator.stats()
        seen = int(stats["requests"])
        if seen != progress[0]:
            progress = (seen, time.monotonic())
        elif seen > 0 and time.monotonic() - progress[1] > stall_s and tree is not None:
            dumps = _dump_stacks(tree)
            raise Stalled(f"stalled: no request for {stall_s:.0f} s after {seen} of {count}{dumps}")
        if tree is not None:
            rss = tree.rss_bytes()
            peak = max(peak, rss)
            while checkpoints and seen >= checkpoints[0]:
                rss_at[checkpoints.pop(0)] = round(rss / 2**20, 1)
            if cpu_start is None and seen > 0:
                cpu_start = (seen, tree.cpu_seconds())
        if seen >= count:
            break
        if tree is not None and tree.exited() and not _still_running(tree):
            raise RuntimeError(f"the process exited after {seen} of {count} requests:\n{tree.log_tail()}")
        if time.monotonic() > deadline:
            detail = f"\n{tree.log_tail()}" if tree is not None else ""
            raise RuntimeError(f"timed out after {timeout:.0f} s with {seen} of {count} requests{detail}")
        time.sleep(interval)
    cpu_ms = None
    if tree is not None and cpu_start is not None and seen > cpu_start[0]:
        cpu_ms = round((tree.cpu_seconds() - cpu_start[1]) * 1000 / (seen - cpu_start[0]), 3)
    span = float(stats["last_at"]) - float(stats["first_at"])
    return Drain(
        count=seen,
        seconds=round(span, 3),
        tasks_per_s=round((seen - 1) / span, 1) if span > 0 else float("nan"),
        cpu_ms_per_task=cpu_ms,
        peak_rss_mb=round(peak / 2**20, 1) if tree is not None else None,
        statuses=dict(stats["by_status"]),
        rss_at=rss_at,
    )


def _dump_stacks(tree: ProcessTree) -> str:
    pyspy = os.environ.get("BENCH_PYSPY")
    if not pyspy:
        return ""
    RESULTS.mkdir(parents=True, exist_ok=True)
    saved = []
    for process in tree.processes:
        path = RESULTS / f"stall-{datetime.now(UTC):%Y%m%dT%H%M%S}-{process.pid}.txt"
        with path.open("w") as sink:
            subprocess.run([pyspy, "dump", "--pid", str(process.pid)], stdout=sink, stderr=sink, timeout=60)
        saved.append(str(path))
    return f" (stacks in {', '.join(saved)})"


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that a stopped benchmark still removes its vhost and processes."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def _still_running(tree: ProcessTree) -> bool:
    # The reference's children exit once their share is posted; only all-exited is final.
    return any(process.poll() is None for process in tree.processes)


def steady_rate(log: list[dict[str, Any]], trim: float = 0.1) -> float | None:
    """Requests/s over the middle of the run (first and last ``trim`` cut): start-up skew removed."""
    stamps = sorted(float(entry["timestamp"]) for entry in log)
    if len(stamps) < 20:
        return None
    low, high = int(len(stamps) * trim), int(len(stamps) * (1 - trim)) - 1
    span = stamps[high] - stamps[low]
    return round((high - low) / span, 1) if span > 0 else None


# ---------------------------------------------------------------- reporting


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that are not None (None if there are none)."""
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def load_average() -> float:
    """The 1-minute load average (the machine is shared: record it with every figure)."""
    return round(os.getloadavg()[0], 2)


def machine() -> dict[str, Any]:
    """The machine and the versions a figure was measured with."""
    versions = {}
    for package in ("celery", "kombu", "amqp", "redis", "requests", "urllib3", "gevent", "marshmallow"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "rabbitmq": _rabbitmq_version(),
        "redis_server": _redis_version(),
        **versions,
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _rabbitmq_version() -> str | None:
    try:
        out = subprocess.run(
            ["rabbitmqctl", "-q", "version"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        return out.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _redis_version() -> str | None:
    try:
        import redis

        info = redis.Redis.from_url(REDIS_URL).info("server")
        return str(info.get("redis_version"))
    except Exception:
        return None


def save_results(name: str, data: Mapping[str, Any]) -> Path:
    """Write ``data`` (plus the command and the machine) to ``bench/results/NAME-TIMESTAMP.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    record = {"command": command_line(), "at": stamp, "machine": machine(), **data}
    path.write_text(json.dumps(record, indent=2, default=str))
    return path


def command_line() -> str:
    """The command that is running, as it would be typed."""
    argv = sys.argv[:]
    if argv and argv[0].endswith("__main__.py"):
        argv[0] = "python -m bench"
    elif argv and argv[0].endswith(".py"):
        argv[0] = f"python -m bench.{Path(argv[0]).stem}"
    return " ".join(argv)
