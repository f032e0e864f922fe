"""Watching what we started: process trees (CPU, memory, stopping) and the drain of a queue.

tasks/s is measured at the emulator, from its first request to its last; the process
tree of the worker (or the reference) is sampled meanwhile with psutil.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .common import REPO, RESULTS, EmulatorProcess

__all__ = ["Drain", "ProcessTree", "Stalled", "spawn", "steady_rate", "wait_for_requests"]


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

    def thread_count(self) -> int:
        """OS threads of every live member (a pool that grows its threads grows its RSS too)."""
        import psutil

        total = 0
        for member in self._members():
            with contextlib.suppress(psutil.Error):
                total += member.num_threads()
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


def spawn(
    commands: Sequence[Sequence[str]], env: Mapping[str, str], log_dir: Path, name: str, *, cwd: Path = REPO
) -> ProcessTree:
    """Start each command at once (in ``cwd``), stdout and stderr into ``log_dir/name-N.log``."""
    processes, logs = [], []
    for number, command in enumerate(commands):
        path = log_dir / f"{name}-{number}.log"
        with path.open("wb") as sink:
            processes.append(
                subprocess.Popen(list(command), env=dict(env), cwd=cwd, stdout=sink, stderr=subprocess.STDOUT)
            )
        logs.append(path)
    return ProcessTree(processes, logs)


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
    threads_at: dict[int, int] = field(default_factory=dict)


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
    stall_s: float = 20.0,
) -> Drain:
    """Poll the emulator until it has seen ``count`` requests; sample the tree meanwhile.

    tasks/s is measured from the emulator's first to its last request. The tree's CPU
    time is taken from the first poll that sees a request, so start-up is not counted.
    ``rss_checkpoints``: request counts at which to record the tree's RSS (MB) and its
    number of OS threads. Raises
    :class:`Stalled` when requests stop arriving for ``stall_s`` after the first one
    (with ``BENCH_PYSPY`` pointing at py-spy, each stalled process's stacks are saved).
    """
    deadline = time.monotonic() + timeout
    checkpoints = sorted(rss_checkpoints)
    cpu_start: tuple[int, float] | None = None
    peak = 0
    rss_at: dict[int, float] = {}
    threads_at: dict[int, int] = {}
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
                checkpoint = checkpoints.pop(0)
                rss_at[checkpoint] = round(rss / 2**20, 1)
                threads_at[checkpoint] = tree.thread_count()
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
        threads_at=threads_at,
    )


def _dump_stacks(tree: ProcessTree) -> str:
    pyspy = os.environ.get("BENCH_PYSPY")
    if not pyspy:
        return ""
    RESULTS.mkdir(parents=True, exist_ok=True)
    saved = []
    for member in tree._members():  # the CLI's --processes parent and its workers, prefork children
        path = RESULTS / f"stall-{datetime.now(UTC):%Y%m%dT%H%M%S}-{member.pid}.txt"
        with path.open("w") as sink:
            subprocess.run([pyspy, "dump", "--pid", str(member.pid)], stdout=sink, stderr=sink, timeout=60)
        saved.append(str(path))
    return f" (stacks in {', '.join(saved)})"


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
