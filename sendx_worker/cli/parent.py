"""A worker process that stops when its supervising parent dies, by whatever signal.

``sendx-worker worker --processes N`` runs each worker process under a parent that
forwards signals (:mod:`.processes`). A parent killed with SIGKILL (the OOM killer,
``kill -9``, a process manager that signals only the PID it started) forwards nothing,
and its children would live on unsupervised, still consuming, beside the set a
supervisor starts next. So each child asks to be sent SIGTERM (Celery's warm shutdown:
running tasks finish, prefetched messages go back to the broker) when its parent goes:
on Linux with ``prctl(PR_SET_PDEATHSIG)``; elsewhere, or if that call fails, a thread
watches ``getppid()`` once a second. Standard library only, like the parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading

__all__ = ["WATCH_INTERVAL_S", "follow_parent", "set_parent_death_signal"]

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_INTERVAL_S = 1.0


def set_parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent exits; False where that is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0
    return False


def follow_parent(parent_pid: int, signum: int = signal.SIGTERM, *, death_signal: bool = True) -> str:
    """Send ``signum`` to this process once ``parent_pid``, its parent, has exited; returns how it watches.

    ``"pdeathsig"`` (Linux) or ``"watch"`` (a daemon thread polling ``getppid()``);
    ``"gone"`` when the parent had already exited, and the signal is sent now.
    ``death_signal=False`` uses the watch even on Linux (for tests).
    """
    how = "pdeathsig" if death_signal and set_parent_death_signal(signum) else "watch"
    # Checked after the request: a parent that died before it would never signal us.
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signum)
        return "gone"
    if how == "watch":
        threading.Thread(target=_watch, args=(parent_pid, signum), name="sendx-parent-watch", daemon=True).start()
    return how


def _watch(parent_pid: int, signum: int) -> None:
    stopped = threading.Event()
    while not stopped.wait(WATCH_INTERVAL_S):
        if os.getppid() != parent_pid:  # reparented: the parent is gone
            os.kill(os.getpid(), signum)
            return
