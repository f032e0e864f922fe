"""``sendx-worker worker``: Celery worker(s) consuming ``sendx``, with defaults for an I/O-bound job.

Every argument this command does not know is passed to ``celery worker`` after
the defaults, so it overrides them (``-c 128``, ``-P gevent``, ``-l DEBUG``).
``--processes`` runs that many worker processes: one process tops out at about one
core (the GIL; MEASURED.md, trap 2), so the default, ``auto``, is one per CPU this
process may use (:mod:`.cpus`). With one, Celery runs in this process; with more,
this process starts each as ``python -m sendx_worker worker --processes 1 ... -n
NAME`` and supervises them (:mod:`.processes`). That parent imports neither Celery
nor requests (see :mod:`.common`), and once the configuration is checked it replaces
itself with a bare interpreter that only supervises: ~11 MB instead of ~43 MB.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, Literal

from ..settings import load_settings
from .common import EXIT_INTERRUPTED, EXIT_USAGE, CommandError, UsageError, subcommand
from .cpus import available_cpus

__all__ = [
    "MAX_PROCESSES",
    "celery_worker_args",
    "child_commands",
    "node_names",
    "process_count",
    "register",
    "with_processes_pool",
]

# Pools of processes, for which one slot per core is the sensible default.
PROCESS_POOLS = ("prefork", "processes")
DEFAULT_NODE = "sendx"
MAX_PROCESSES = 64

EXAMPLES = """\
examples:
  sendx-worker worker                          # one process per CPU (--processes auto), 64 threads each
  sendx-worker worker --processes 1            # one process, e.g. one per container, scaled by replicas
  sendx-worker worker --processes 4            # nodes sendx-1@%h .. sendx-4@%h
  sendx-worker worker -c 128 -l DEBUG          # any `celery worker` option overrides the defaults
  sendx-worker worker -P prefork               # one prefork worker, one child per CPU unless -c says otherwise
  CELERY_BROKER_URL=amqp://guest:guest@localhost:5672// sendx-worker worker

--processes auto is the number of CPUs this process may use: its CPU affinity, lowered to
its cgroup's CPU quota (a container limited to 1 CPU runs 1 process); with -P prefork, whose
children already take a CPU each, it is 1. With one process the node is sendx@%h; with N,
sendx-1@%h .. sendx-N@%h (or NAME-1@HOST.. from -n NAME@HOST).

defaults passed to `celery -A sendx_worker worker`: -Q sendx -c 64 --without-gossip
--without-mingle --loglevel INFO -n sendx@%h (see `celery worker --help` for every option).
Without -P the pool is the app's: sendx-worker's threads pool (Celery's threads pool on a
plain queue, cheaper per task); -P threads runs Celery's own. -P prefork is passed on as
-P processes, its other name: Celery reads a plain -P prefork as no -P at all, and would
run threads. At INFO each task logs one line, ours
(delivered, retry scheduled, dead-lettered); Celery's own "Task ... received" and
"... succeeded in" lines show with -l DEBUG only.

SIGTERM stops gracefully (warm shutdown: running tasks finish, prefetched messages go back
to the broker); with several processes it is passed on to every one, and if the parent is
killed by a signal it cannot pass on (SIGKILL), each worker process stops warm by itself."""


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
        default="auto",
        metavar="N",
        help="run N worker processes, or auto: one per CPU this process may use (the default)",
    )
    # Given by the supervising parent to each worker process it starts (see .parent).
    parser.add_argument("--supervised-by", type=int, metavar="PID", help=argparse.SUPPRESS)
    parser.set_defaults(handler=run, passes_extra=True, configures_logging=False)


def _processes(text: str) -> int | Literal["auto"]:
    if text == "auto":
        return "auto"
    if not text.isdigit() or not 1 <= int(text) <= MAX_PROCESSES:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes from 1 to {MAX_PROCESSES}, nor auto")
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


def with_processes_pool(args: Sequence[str]) -> list[str]:
    """``args`` with the pool ``prefork`` named ``processes`` (``-P``, ``-Pprefork``, ``--pool``, ``--pool=``).

    Why: celeryconf sets ``worker_pool`` to a threads pool, and Celery's ``-P`` cannot tell an
    explicit ``-P prefork`` from no ``-P`` at all (``celery/bin/worker.py``,
    ``WorkersPool.convert``: prefork, its default, means "the app's worker_pool"), so
    ``-P prefork`` would silently run threads. ``processes`` is prefork's other name,
    which Celery takes as given.
    """
    found: list[str] = []
    pool_value_next = False
    for arg in args:
        if pool_value_next:
            found.append("processes" if arg == "prefork" else arg)
            pool_value_next = False
        elif arg in ("-P", "--pool"):
            found.append(arg)
            pool_value_next = True
        elif arg in ("-Pprefork", "--pool=prefork"):
            found.append(arg.replace("prefork", "processes"))
        else:
            found.append(arg)
    return found


def celery_worker_args(passthrough: Sequence[str]) -> list[str]:
    """``worker`` and its arguments: our defaults first, then ``passthrough`` (which wins), then ``-n``."""
    # Imported here, not at the top: the parent of --processes N does without them (see .common).
    from ..celeryconf import WORKER_CONCURRENCY
    from ..topology import WORK_QUEUE

    passthrough = with_processes_pool(passthrough)
    # No -P: the app's worker_pool (celeryconf.WORKER_POOL), which Celery's -P cannot name.
    args = ["worker", "-Q", WORK_QUEUE, "--without-gossip", "--without-mingle"]
    args += ["--loglevel", "INFO"]
    if option_value(passthrough, "-c", "--concurrency") is None:
        # 64 threads are cheap; 64 prefork processes are not: one per CPU, as Celery would.
        process_pool = option_value(passthrough, "-P", "--pool") in PROCESS_POOLS
        # Passed explicitly, even the default, so that `ps` shows it.
        args += ["-c", str(available_cpus()) if process_pool else str(WORKER_CONCURRENCY)]
    args += passthrough
    if option_value(passthrough, "-n", "--hostname") is None:
        args += ["-n", f"{DEFAULT_NODE}@%h"]
    return args


def node_names(passthrough: Sequence[str], count: int) -> list[str]:
    """Distinct node names for ``count`` processes: ``sendx-1@%h``..., or ``NAME-1@HOST``... from ``-n``."""
    given = option_value(passthrough, "-n", "--hostname") or f"{DEFAULT_NODE}@%h"
    name, at, host = given.partition("@")
    return [f"{name}-{index}{at}{host}" for index in range(1, count + 1)]


def process_count(requested: int | Literal["auto"], passthrough: Sequence[str], cpus: Callable[[], int]) -> int:
    """How many worker processes to run: ``--processes N``, or for ``auto`` one per CPU.

    Except with a process pool (``-P prefork``): its children already take one CPU
    each, so ``auto`` is one worker process then.
    """
    if requested != "auto":
        return requested
    if option_value(with_processes_pool(passthrough), "-P", "--pool") in PROCESS_POOLS:
        return 1
    return max(1, min(cpus(), MAX_PROCESSES))


def child_commands(passthrough: Sequence[str], count: int) -> list[list[str]]:
    """The command lines of ``count`` worker processes: this command with one process each, and its own node.

    Each is told this process's pid, so that it stops when this process dies (:mod:`.parent`).
    """
    command = [sys.executable, "-m", "sendx_worker", "worker", "--processes", "1"]
    command += ["--supervised-by", str(os.getpid()), *passthrough]
    return [[*command, "-n", name] for name in node_names(passthrough, count)]


def run(args: argparse.Namespace) -> int:
    """Validate the configuration, then run Celery in this process (one process) or supervise several."""
    settings = load_settings()
    settings.credentials_for(None)
    if settings.ordering:
        settings.require_state_url()
    if args.log_format:
        # Read by the worker's logging set-up, here and in child processes.
        os.environ["SENDX_LOG_FORMAT"] = args.log_format
    if args.supervised_by is not None:
        from .parent import follow_parent

        follow_parent(args.supervised_by)
    count = process_count(args.processes, args.extra, available_cpus)
    if count == 1:
        return _run_here(celery_worker_args(args.extra))
    from .processes import become_supervisor

    # Each child is given this pid, which exec keeps (see .parent).
    become_supervisor(child_commands(args.extra, count))


def _run_here(argv: list[str]) -> int:
    import click

    from ..celery_app import app
    from .celery_repl import leave_out_celery_repl

    leave_out_celery_repl()  # before app.start() imports Celery's command line

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
