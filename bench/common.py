"""What every benchmark shares: isolated brokers, the emulator process, the environment, results.

Everything measured runs in its own process: the emulator (reusing the approach of
:mod:`bench.emulator_ceiling`), each worker and the reference client. The benchmark
process only fills queues, polls the emulator's ``/_emulator/stats`` and samples the
others' CPU time and memory (:mod:`bench.drain`).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
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
    "exit_on_sigterm",
    "identify_body",
    "isolated_broker",
    "load_average",
    "machine",
    "median",
    "save_results",
    "sendx_env",
]

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672"
# Redis databases 10-15 are for tests and benchmarks; 12 is the benchmarks'.
# BENCH_REDIS_URL: another database, so that two sittings at once do not share (and flush) one.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
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
        """The environment that points sendx-worker (and the naive app) at this broker.

        On RabbitMQ, per-contact ordering needs a state store: Redis database 12, which
        the RabbitMQ runs leave otherwise unused (``BENCH_STATE_URL`` names another, e.g. a
        PostgreSQL one; ``SENDX_ORDERING=off`` in a configuration's own environment wins).
        """
        env = {"SENDX_DATA_DIR": str(self.data_dir)}
        if self.url is not None:
            env["CELERY_BROKER_URL"] = self.url
        if self.kind == "rabbitmq":
            env["SENDX_STATE_URL"] = os.environ.get("BENCH_STATE_URL", REDIS_URL)
        return env


def _flush_state_store() -> None:
    """Empty the Redis database the RabbitMQ runs' ordering uses (another store is left alone)."""
    import redis

    url = os.environ.get("BENCH_STATE_URL", REDIS_URL)
    if not url.startswith("redis://"):
        return
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


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
            _flush_state_store()  # the state store of ordering on RabbitMQ (Broker.env)
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

    def contact(self, email: str) -> dict[str, Any]:
        """The contact the emulator holds for ``email`` in the bench team ({} if none)."""
        answer = self._http.get(f"{self.url}/_emulator/contacts/{email}", params={"team_id": TEAM}, timeout=30)
        if answer.status_code == 404:
            return {}
        answer.raise_for_status()
        contact: dict[str, Any] = answer.json()
        return contact

    def reset(self) -> None:
        """Forget contacts, the log and the counters."""
        self._http.post(f"{self.url}/_emulator/reset", timeout=30).raise_for_status()

    def cpu_seconds(self) -> float:
        """The emulator's CPU time so far."""
        import psutil

        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def close(self) -> None:
        """Stop the emulator process."""
        self._http.close()
        _stop_emulator(self.process)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def sendx_env(broker: Broker, emulator: EmulatorProcess, *, repo: Path = REPO) -> dict[str, str]:
    """A clean environment for a worker: our broker, the emulator, the bench credentials.

    ``repo``: the checkout whose ``sendx_worker`` the worker runs (another one: a baseline).
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith(("SENDX_", "CELERY_"))}
    env.update(broker.env())
    env.update(SENDX_API_KEY=KEY, SENDX_TEAM_ID=TEAM, SENDX_BASE_URL=emulator.base_url)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH")]))
    return env


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that a stopped benchmark still removes its vhost and processes."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


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
    versions: dict[str, str | None] = {}
    for package in (
        "celery",
        "kombu",
        "amqp",
        "redis",
        "hiredis",
        "psycopg",
        "requests",
        "urllib3",
        "gevent",
        "marshmallow",
    ):
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
    if path.exists():  # two results of one name within a second
        path = RESULTS / f"{name}-{stamp}-{uuid.uuid4().hex[:4]}.json"
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
