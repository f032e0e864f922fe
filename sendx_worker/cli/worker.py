"""``sendx-worker worker``: a Celery worker consuming ``sendx``, with defaults for an I/O-bound job.

Every argument this command does not know is passed to ``celery worker`` after
the defaults, so it overrides them (``-c 64``, ``-P prefork``, ``-l DEBUG``).
``--processes N`` runs N Celery worker processes: one process tops out at about
one core (MEASURED.md, trap 2), so N = the number of cores uses the machine.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

from ..celeryconf import WORKER_CONCURRENCY, WORKER_POOL
from ..settings import load_settings
from ..topology import WORK_QUEUE
from .common import EXIT_INTERRUPTED, EXIT_USAGE, CommandError, UsageError, subcommand

__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_POOL", "MAX_PROCESSES", "celery_worker_args", "node_names", "register"]

#: Threads per worker process: the one constant lives with the Celery configuration
#: (``celeryconf.WORKER_CONCURRENCY``); it is passed explicitly so that ``ps`` shows it.
DEFAULT_CONCURRENCY = WORKER_CONCURRENCY
DEFAULT_POOL = WORKER_POOL
# Pools of processes, for which one slot per core is the sensible default.
PROCESS_POOLS = ("prefork", "processes")
DEFAULT_NODE = "sendx"
MAX_PROCESSES = 64

EXAMPLES = """\
examples:
  sendx-worker worker                          # threads pool, 64 threads, queue sendx
  sendx-worker worker --processes 2            # two worker processes (one per core), nodes sendx-1@%h, sendx-2@%h
  sendx-worker worker -c 64 -l DEBUG           # any `celery worker` option overrides the defaults
  sendx-worker worker -P prefork              # one process per core unless -c says otherwise
  CELERY_BROKER_URL=amqp://guest:guest@localhost:5672// sendx-worker worker

defaults passed to `celery -A sendx_worker worker`: -Q sendx -P threads -c 64
--without-gossip --without-mingle --loglevel INFO -n sendx@%h (see `celery worker --help` for every
option). SIGTERM stops gracefully (warm shutdown: running tasks finish, prefetched messages go back
to the broker); with --processes it is passed on to every process."""


def register(subparsers: Any) -> None:
    """Add ``worker``."""
    parser = subcommand(
        subparsers,
        "worker",
        help="run a worker consuming the sendx queue",
        description="Run Celery worker(s) consuming the sendx queue; other options go to `celery worker`.",
        examples=EXAMPLES,
    )
    # No abbreviations: "--p" must reach Celery as itself, not become --processes.
    parser.allow_abbrev = False
    parser.add_argument(
        "--processes",
        type=_processes,
        default=1,
        metavar="N",
        help="run N worker processes (default 1; one per core uses them all)",
    )
    parser.set_defaults(handler=run, passes_extra=True, configures_logging=False)


def _processes(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_PROCESSES:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes from 1 to {MAX_PROCESSES}")
    return int(text)


def option_value(args: Sequence[str], short: str, long: str) -> str | None:
    """The last value given to ``-x V``, ``-xV``, ``--long V`` or ``--long=V`` in ``args``, if any."""
    found: str | None = None
    for index, arg in enumerate(args):
        following = args[index + 1] if index + 1 < len(args) else None
        if arg in (short, long):
            found = following
        elif arg.startswith(long + "="):
            found = arg[len(long) + 1 :]
        elif arg.startswith(short) and not arg.startswith("--") and len(arg) > len(short):
            found = arg[len(short) :]
    return found


def celery_worker_args(passthrough: Sequence[str], node: str | None = None) -> list[str]:
    """``worker`` and its arguments: our defaults first, then ``passthrough`` (which wins), then ``-n node``."""
    args = ["worker", "-Q", WORK_QUEUE, "-P", DEFAULT_POOL, "--without-gossip", "--without-mingle"]
    args += ["--loglevel", "INFO"]
    if option_value(passthrough, "-c", "--concurrency") is None:
        # 64 threads are cheap; 64 prefork processes are not: one per core, as Celery would.
        process_pool = option_value(passthrough, "-P", "--pool") in PROCESS_POOLS
        args += ["-c", str(os.cpu_count() or 1) if process_pool else str(DEFAULT_CONCURRENCY)]
    args += list(passthrough)
    if node is not None:
        args += ["-n", node]
    elif option_value(passthrough, "-n", "--hostname") is None:
        args += ["-n", f"{DEFAULT_NODE}@%h"]
    return args


def node_names(passthrough: Sequence[str], count: int) -> list[str]:
    """Distinct node names for ``count`` processes: ``sendx-1@%h``..., or ``NAME-1@HOST``... from ``-n``."""
    given = option_value(passthrough, "-n", "--hostname") or f"{DEFAULT_NODE}@%h"
    name, at, host = given.partition("@")
    return [f"{name}-{index}{at}{host}" for index in range(1, count + 1)]


def run(args: argparse.Namespace) -> int:
    """Validate the configuration, then run Celery in this process (N=1) or supervise N processes."""
    settings = load_settings()
    settings.credentials_for(None)
    if args.log_format:
        # Read by the worker's logging set-up, here and in child processes.
        os.environ["SENDX_LOG_FORMAT"] = args.log_format
    if args.processes == 1:
        return _run_here(celery_worker_args(args.extra))
    from .processes import supervise

    names = node_names(args.extra, args.processes)
    return supervise([celery_worker_args(args.extra, name) for name in names])


def _run_here(argv: list[str]) -> int:
    import click

    from ..celery_app import app

    try:
        code = app.start(argv=argv)
    except click.exceptions.Abort:
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        raise UsageError(f"celery worker: {exc.format_message()}") from None
    except SystemExit as exc:
        if isinstance(exc.code, int) or exc.code is None:
            return exc.code or 0
        raise CommandError(str(exc.code), EXIT_USAGE) from None
    return int(code or 0)
