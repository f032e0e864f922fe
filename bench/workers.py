"""The worker configurations the benchmarks compare, as the commands that start them.

``default_worker()`` is the one place that says what "the default ``sendx-worker
worker``" is: ``python -m sendx_worker worker [--processes N]`` with nothing else, so
that the benchmark follows the CLI's defaults as they change. Where the CLI is missing
(or with ``BENCH_DEFAULT_WORKER=celery``) it is the equivalent ``celery`` command line.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sendx_worker.celeryconf import WORKER_CONCURRENCY
from sendx_worker.cli.cpus import available_cpus

from .stores import POSTGRES_STATE_URL

__all__ = ["CONFIGS", "USE_CLI", "WorkerSpec", "config", "default_worker"]

USE_CLI = os.environ.get("BENCH_DEFAULT_WORKER", "cli") == "cli" and bool(importlib.util.find_spec("sendx_worker.cli"))

# What the CLI does by default: the app's threads pool (no -P: celeryconf.WORKER_POOL,
# which Celery's -P cannot name), 64 threads, one process per usable CPU, no
# gossip/mingle, no task events, Celery's per-task lines at WARNING.
DEFAULT_POOL, DEFAULT_CONCURRENCY = "", WORKER_CONCURRENCY
_COMMON = ("--without-gossip", "--without-mingle")
# The pool sweep runs without task events: with events on, a threads-pool worker on
# RabbitMQ can livelock (docs/BENCHMARKS.md, "The event-connection stall"), which would
# measure the stall instead of the pool. ``default`` keeps the CLI's events as they are.
_NO_EVENTS = ("worker_send_task_events=False",)


@dataclass(frozen=True)
class WorkerSpec:
    """One worker configuration: ``processes`` identical worker processes."""

    name: str
    pool: str
    concurrency: int
    processes: int = 1
    app: str = "sendx_worker"
    queue: str = "sendx"
    # ``key=value`` Celery settings appended to the command line (celery worker accepts them).
    settings: tuple[str, ...] = _NO_EVENTS
    flags: tuple[str, ...] = _COMMON
    cli: bool = False
    # The CLI is given --processes (else it picks one per usable CPU itself).
    pinned_processes: bool = True
    notes: str = ""
    tags: tuple[str, ...] = field(default=())
    # "celery", or "dramatiq" for the peer in bench.dramatiq_app.
    framework: str = "celery"
    # Another checkout whose sendx_worker this configuration runs (NAME@LABEL), or None: this one.
    repo: Path | None = None
    # Environment of its own, over the broker's (SENDX_ORDERING, SENDX_STATE_URL; bench.stores).
    env: tuple[tuple[str, str], ...] = ()

    @property
    def naive(self) -> bool:
        """True for the hand-written Celery task (bench.naive_app)."""
        return self.framework == "celery" and self.app != "sendx_worker"

    @property
    def dramatiq(self) -> bool:
        """True for the Dramatiq peer (bench.dramatiq_app)."""
        return self.framework == "dramatiq"

    def commands(self) -> list[list[str]]:
        """The command lines that start this configuration (one per process unless the CLI forks)."""
        if self.dramatiq:  # Dramatiq's own CLI forks the processes, as a Dramatiq user runs it
            command = [sys.executable, "-m", "dramatiq", self.app, "--processes", str(self.processes)]
            return [[*command, "--threads", str(self.concurrency), "--queues", self.queue]]
        if self.cli:  # the CLI's own defaults, nothing added
            command = [sys.executable, "-m", "sendx_worker", "worker"]
            if self.pinned_processes:
                command += ["--processes", str(self.processes)]
            return [command + list(self.settings)]
        return [self._celery(number) for number in range(self.processes)]

    def _celery(self, number: int) -> list[str]:
        command = [sys.executable, "-m", "celery", "-A", self.app, "worker"]
        if self.pool:
            # Celery reads "-P prefork" as "no pool given" and uses the app's worker_pool
            # instead (celery/bin/worker.py, WorkersPool.convert); "processes" is its alias.
            command += ["-P", "processes" if self.pool == "prefork" and not self.naive else self.pool]
        if self.concurrency:
            command += ["-c", str(self.concurrency)]
        command += ["-n", f"bench{number}-{uuid.uuid4().hex[:6]}@%h", "-Q", self.queue, *self.flags]
        return command + list(self.settings)

    def shown(self) -> str:
        """The command as a person would type it (one process; ``xN`` for several)."""
        command = " ".join(self.commands()[0]).replace(sys.executable, "python")
        command = re.sub(r" -n bench0-\w+@%h", "", command)
        if self.processes > 1 and not self.cli and not self.dramatiq:
            command = f"{self.processes} x [{command}]"
        return command


def default_worker(processes: int | None = None) -> WorkerSpec:
    """``sendx-worker worker`` with its defaults; ``processes``: add ``--processes N``.

    ``default`` is the command with nothing added, so one process per usable CPU
    (``--processes auto``); ``default-xN`` pins the number of processes.
    """
    return WorkerSpec(
        name="default" if processes is None else f"default-x{processes}",
        pool=DEFAULT_POOL,
        concurrency=DEFAULT_CONCURRENCY,
        processes=available_cpus() if processes is None else processes,
        settings=(),
        flags=(*_COMMON, "--loglevel", "INFO"),
        cli=USE_CLI,
        tags=("default",),
        pinned_processes=processes is not None,
    )


def _threads(concurrency: int, processes: int = 1) -> WorkerSpec:
    suffix = f"x{processes}" if processes > 1 else ""
    return WorkerSpec(f"threads-{concurrency}{suffix}", "threads", concurrency, processes, tags=("threads",))


def _gevent(concurrency: int, processes: int = 1) -> WorkerSpec:
    # MEASURED.md trap 1: with AMQP heartbeats the green loop blocks 0.1 s per message.
    suffix = f"x{processes}" if processes > 1 else ""
    return WorkerSpec(
        f"gevent-{concurrency}{suffix}",
        "gevent",
        concurrency,
        processes,
        settings=(*_NO_EVENTS, "broker_heartbeat=0"),
        tags=("gevent",),
    )


def _prefork(concurrency: int) -> WorkerSpec:
    return WorkerSpec(f"prefork-{concurrency}", "prefork", concurrency, tags=("prefork",))


NAIVE = WorkerSpec(
    name="naive",
    pool="",  # Celery's default: prefork, one child per CPU
    concurrency=0,
    app="bench.naive_app",
    queue="naive",
    flags=(),
    settings=(),
    notes="hand-written task: requests.post, Celery defaults, prefork",
    tags=("naive",),
)


def _variant(base: WorkerSpec, name: str, notes: str, **changes: tuple[Any, ...]) -> WorkerSpec:
    """``base`` with ``changes``, named ``name`` and tagged as a variant (kept off the plot's lines)."""
    return replace(base, name=name, notes=notes, tags=("variant",), **changes)


# The same hand-written task given the pool and concurrency of our default.
NAIVE_THREADS = replace(
    NAIVE, name="naive-threads", pool="threads", concurrency=DEFAULT_CONCURRENCY, notes="naive task, threads pool"
)


def _dramatiq(threads: int, processes: int = 1) -> WorkerSpec:
    """The peer: a Dramatiq actor with a ``requests.Session`` per thread, on Dramatiq's own broker."""
    from .dramatiq_app import QUEUE

    return WorkerSpec(
        name=f"dramatiq-{threads}" + (f"x{processes}" if processes > 1 else ""),
        pool="threads",
        concurrency=threads,
        processes=processes,
        app="bench.dramatiq_app",
        queue=QUEUE,
        settings=(),
        flags=(),
        framework="dramatiq",
        notes="Dramatiq actor, default middleware, per-thread requests.Session",
        tags=("peer",),
    )


CONFIGS: dict[str, WorkerSpec] = {
    spec.name: spec
    for spec in [
        default_worker(),
        default_worker(1),
        default_worker(2),
        NAIVE,
        NAIVE_THREADS,
        _dramatiq(64),
        _dramatiq(64, 2),
        *(_threads(c) for c in (8, 16, 32, 64, 128)),
        *(_threads(c, 2) for c in (16, 32, 64)),
        *(_gevent(c) for c in (32, 64, 100, 128, 256)),
        _gevent(100, 2),
        *(_prefork(c) for c in (2, 4, 8, 16, 32)),
        # Variants of the default, to find where its time goes (threads-32 is it without events).
        _variant(
            default_worker(1),
            "default-nohb",
            "one default process with task events on and AMQP heartbeats off (SENDX_TASK_EVENTS=1)",
            settings=("worker_send_task_events=True", "broker_heartbeat=0"),
        ),
        _variant(
            default_worker(2),
            "default-x2-warning",
            "default-x2 without our per-task INFO line",
            settings=("--loglevel", "WARNING"),
        ),
        _variant(
            default_worker(1),
            "default-x1-prefetch2",
            "default-x1 with two messages prefetched per thread (Dramatiq's default)",
            settings=("--prefetch-multiplier", "2"),
        ),
        _variant(
            default_worker(1),
            "default-x1-warning",
            "default-x1 without our per-task INFO line (what the line costs)",
            settings=("--loglevel", "WARNING"),
        ),
        # Per-contact ordering's own cost (issue 10): off, and on with each kind of store.
        _variant(
            default_worker(1),
            "default-x1-ordering-off",
            "default-x1 with SENDX_ORDERING=off (no state store round trips)",
            env=(("SENDX_ORDERING", "off"),),
        ),
        _variant(
            default_worker(1),
            "default-x1-pg",
            "default-x1 with its ordering state in PostgreSQL (bench schema in db test)",
            env=(("SENDX_STATE_URL", POSTGRES_STATE_URL),),
        ),
        _variant(
            default_worker(1),
            "default-x1-sqlite",
            "default-x1 with its ordering state in an SQLite file",
            env=(("SENDX_STATE_URL", "sqlite:///{data_dir}/bench-state.sqlite3"),),
        ),
        _variant(
            _threads(32),
            "threads-32-info",
            "threads-32 logging at INFO (three lines per task, as the CLI did before Celery's went to DEBUG)",
            flags=(*_COMMON, "--loglevel", "INFO"),
        ),
        _variant(
            _threads(32),
            "threads-32-prefetch4",
            "threads-32 with prefetch multiplier 4",
            settings=(*_NO_EVENTS, "worker_prefetch_multiplier=4"),
        ),
    ]
}


def config(name: str, *, checkouts: Mapping[str, Path] | None = None) -> WorkerSpec:
    """The configuration called ``name``; ``threads-C[xP]``, ``gevent-C[xP]``, ``prefork-C`` are made on demand.

    ``NAME@LABEL`` is NAME running the ``sendx_worker`` of the checkout ``checkouts[LABEL]``
    (``python -m bench throughput --checkout LABEL=DIR``), for a before/after in one sitting.
    """
    base, at, label = name.partition("@")
    if at:
        if label not in (checkouts or {}):
            raise KeyError(f"{name!r}: no checkout {label!r}; give it with --checkout {label}=DIR")
        return replace(config(base), name=name, repo=Path((checkouts or {})[label]).resolve(), tags=("variant",))
    if name in CONFIGS:
        return CONFIGS[name]
    match = re.fullmatch(r"(threads|gevent|prefork)-(\d+)(?:x(\d+))?", name)
    if match is None:
        raise KeyError(f"unknown worker configuration {name!r}; known: {', '.join(CONFIGS)}")
    pool, concurrency, processes = match.group(1), int(match.group(2)), int(match.group(3) or 1)
    if pool == "threads":
        return _threads(concurrency, processes)
    if pool == "gevent":
        return _gevent(concurrency, processes)
    if processes != 1:
        raise KeyError("prefork takes its processes from the concurrency: prefork-C only")
    return _prefork(concurrency)
