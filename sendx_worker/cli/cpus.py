"""How many CPUs this process may use: the default number of worker processes.

One threads-pool worker process is bound by one core (the GIL), so ``sendx-worker
worker`` runs one process per usable CPU, the same idea as Celery's prefork default
of one child per CPU. "Usable" is the CPU affinity (``taskset``, cpusets), lowered to
the CPU quota of the process's cgroup or any of its ancestors: a container or systemd
unit limited to 1.5 CPUs gets 2 processes, one limited to 1 CPU gets 1. A container's
affinity often shows all the host's CPUs; its quota is what it may use.

:func:`usable_cpus` decides from the facts alone, :func:`quota_files` says where the
quotas are (cgroup v2 ``cpu.max``, cgroup v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``),
and :func:`available_cpus` reads them on this machine.
"""

from __future__ import annotations

import math
import os
import posixpath
from collections.abc import Iterable
from pathlib import Path

__all__ = ["CGROUP_ROOT", "available_cpus", "quota_files", "usable_cpus"]

CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cpus(affinity: int, quotas: Iterable[str]) -> int:
    """``affinity`` CPUs, lowered to the tightest of ``quotas``; at least 1.

    Each quota reads ``"<quota> <period>"`` in microseconds, as cgroup v2's ``cpu.max``
    does (``"150000 100000"``: 1.5 CPUs, rounded up to 2); ``"max <period>"`` (v2) or a
    quota of ``-1`` (v1) is no limit.
    """
    usable = max(1, affinity)
    for text in quotas:
        quota, _, period = text.strip().partition(" ")
        period = period.strip()
        if quota.isdigit() and period.isdigit() and int(quota) > 0 and int(period) > 0:
            usable = min(usable, max(1, math.ceil(int(quota) / int(period))))
    return usable


def quota_files(proc_self_cgroup: str, root: Path = CGROUP_ROOT) -> list[tuple[Path, ...]]:
    """Where the CPU quotas that apply to this process are: for its cgroup and every ancestor.

    ``proc_self_cgroup`` is the text of ``/proc/self/cgroup`` (``0::/path`` for cgroup
    v2, ``N:cpu,cpuacct:/path`` for v1). Each entry is ``(cpu.max,)`` (v2) or
    ``(cpu.cfs_quota_us, cpu.cfs_period_us)`` (v1); files that do not exist are for the
    caller to skip. Inside a container (its own cgroup namespace) the limit is in the
    files at the mount's root, which every walk ends with.
    """
    found: list[tuple[Path, ...]] = []
    lines = [line.split(":", 2) for line in proc_self_cgroup.splitlines() if line.count(":") >= 2]
    for hierarchy, controllers, path in lines or [["0", "", "/"]]:
        if hierarchy == "0" and not controllers:
            found += [(root / here / "cpu.max",) for here in _ancestors(path)]
        elif "cpu" in controllers.split(","):
            for mount in dict.fromkeys((root / controllers, root / "cpu")):
                found += [
                    (mount / here / "cpu.cfs_quota_us", mount / here / "cpu.cfs_period_us") for here in _ancestors(path)
                ]
    return found


def _ancestors(path: str) -> list[str]:
    """``"/a/b"`` -> ``["a/b", "a", ""]``, relative to the mount; kept under it (``"/../x"`` is ``"x"``)."""
    here = posixpath.normpath("/" + path.strip().lstrip("/"))
    found = []
    while True:
        found.append(here.lstrip("/"))
        if here == "/":
            return found
        here = posixpath.dirname(here)


def available_cpus() -> int:
    """The CPUs this process may use on this machine (see the module's docstring)."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quotas = []
    for files in quota_files(_read(Path("/proc/self/cgroup")) or ""):
        texts = [_read(path) for path in files]
        if all(text is not None for text in texts):
            quotas.append(" ".join(text.strip() for text in texts if text is not None))
    return usable_cpus(affinity, quotas)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None  # no cgroup here, or no CPU controller at this level
