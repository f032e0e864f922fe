"""Several worker processes under one parent that forwards signals and waits for them all.

The parent holds no Celery, nor the rest of this package: once ``sendx-worker worker``
has checked its configuration, it replaces itself (same pid, :func:`become_supervisor`)
with a fresh interpreter that runs this file by path, without ``site``. It needs only
the standard library, so it imports nothing from this package (its exit codes are
:mod:`.common`'s, which a test holds equal), and the parent holds ~12 MB of RSS instead
of the ~17 MB that the command line's modules kept (docs/BENCHMARKS.md, "Memory")."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import NoReturn

__all__ = ["FORWARDED_SIGNALS", "become_supervisor", "supervise", "supervisor_command"]

# The values of .common's EXIT_OK, EXIT_FAILURE, EXIT_USAGE and PROG (a test checks).
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
PROG = "sendx-worker"

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def supervise(commands: Sequence[list[str]]) -> int:
    """Run each of ``commands`` (a worker process's command line) until all have exited.

    SIGTERM/SIGINT/SIGQUIT are passed on to every child, which shuts down as Celery
    does (SIGTERM: warm). The children run in their own process group so that a
    Ctrl-C reaches them once, through here. If one fails, the others are stopped.
    Returns 0 when every child exited 0; else 2 when the first to fail exited 2 (bad
    usage, such as an unknown `celery worker` option, which every child rejects), else 1.
    """
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        _signal_running(children, signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS}
    try:
        for command in commands:
            children.append(subprocess.Popen(command, process_group=0))
        codes = _wait_all(children, lambda: stopping)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    failures = [code for code in codes if code != 0]
    if not failures:
        return EXIT_OK
    return EXIT_USAGE if failures[0] == EXIT_USAGE else EXIT_FAILURE


def _wait_all(children: list[subprocess.Popen[bytes]], stopping: Callable[[], bool]) -> list[int]:
    """Reap the children as they exit; on an unexpected failure, stop the rest. Exit codes in exit order.

    This loop is the only place that reaps them: ``Popen.poll()`` or ``send_signal()``
    (which polls) would reap a child that had just exited behind ``os.wait``'s back, and
    the next ``os.wait`` would fail with "No child processes" (seen once in CI).
    """
    by_pid = {child.pid: child for child in children}
    codes: dict[int, int] = {}
    failed = False
    while len(codes) < len(children):
        # Which child exited, leaving it a zombie: until it is marked, its pid cannot be reused, so
        # a signal forwarded meanwhile reaches it harmlessly and never another process.
        exited = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)  # retried after a signal handler (PEP 475)
        if exited is None:  # only ever None with WNOHANG, not asked for here
            continue
        pid = exited.si_pid
        child = by_pid.get(pid)
        if child is None:
            os.waitpid(pid, 0)  # a child this loop did not start (kept across the exec): reap it
            continue
        child.returncode = _EXITED  # no more signals for it: it is reaped next
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        child.returncode = code
        codes[pid] = code
        if code != 0 and not stopping() and not failed:
            failed = True  # the others exit because of this one: said once
            if code != EXIT_USAGE:  # bad usage: the child's own error line says it all
                print(
                    f"{PROG}: worker process {pid} exited with {code}; stopping the others", file=sys.stderr, flush=True
                )
            _signal_running(children, signal.SIGTERM)
    return list(codes.values())


# A child's returncode while it is being reaped: neither None (running) nor its real code.
_EXITED = -(1 << 30)


def _signal_running(children: list[subprocess.Popen[bytes]], signum: int) -> None:
    """Send ``signum`` to every child not yet reaped, with ``os.kill`` (Popen's would reap)."""
    for child in children:
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # not ours to meet: a zombie takes signals
                os.kill(child.pid, signum)


def supervisor_command(commands: Sequence[list[str]]) -> list[str]:
    """The command line of a lean interpreter that runs :func:`supervise` over ``commands``.

    ``-S``: no ``site``, so not even the installed packages' path hooks are loaded; this
    file by path, so that no package ``__init__`` runs.
    """
    return [sys.executable, "-S", os.path.abspath(__file__), json.dumps([list(command) for command in commands])]


def become_supervisor(commands: Sequence[list[str]]) -> NoReturn:
    """Replace this process (same pid) with :func:`supervisor_command`'s interpreter; does not return."""
    # Whatever this process printed must be out before exec drops its buffers.
    sys.stdout.flush()
    sys.stderr.flush()
    command = supervisor_command(commands)
    os.execv(command[0], command)  # noqa: S606 (this interpreter and this file, no shell)


def _main(argv: Sequence[str]) -> int:
    commands = json.loads(argv[0])
    return supervise(commands)


if __name__ == "__main__":  # the interpreter :func:`become_supervisor` starts
    sys.exit(_main(sys.argv[1:]))
