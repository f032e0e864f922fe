"""No orphans: worker processes stop, warm, when their supervising parent dies by any signal (SIGKILL too)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest

from sendx_worker.cli.parent import follow_parent
from tests.cli.conftest import CliProcess
from tests.delivery.conftest import Stack
from tests.support.output import CollectedOutput
from tests.support.waiting import wait_for

TASKS = 120


def gone(process: psutil.Process) -> bool:
    """Exited (a zombie waiting for a reaper has exited too)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_worker_processes_stop_warm_when_their_parent_is_sigkilled_and_lose_nothing(stack: Stack) -> None:
    # Slow answers, so that calls are in flight when the parent dies.
    stack.emulator.set_faults(latency_ms=300)
    workers = CliProcess("worker", "--processes", "2", "-c", "8")
    children: list[psutil.Process] = []
    try:
        wait_for(lambda: workers.count(" ready.") >= 2 or workers.exited(), timeout=90, what="two nodes ready")
        assert not workers.exited(), workers.log()
        children = psutil.Process(workers.process.pid).children()
        assert len(children) == 2
        for index in range(TASKS):
            stack.identify({"email": f"orphan{index}@example.com", "tags": ["orphan"]})
        wait_for(lambda: stack.emulator.stats()["requests"] >= 20, timeout=60, what="calls in flight")

        os.kill(workers.process.pid, signal.SIGKILL)
        workers.process.wait(timeout=30)
        wait_for(lambda: all(gone(child) for child in children), timeout=90, what="the workers to stop")
        workers.output.join(timeout=30)  # the children held the output pipe: it closes when they are gone
    except BaseException:
        print(stack.emulator.stats(), workers.log())  # shown when the test fails
        raise
    finally:
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()
    # Each stopped as on SIGTERM: running calls finished, prefetched messages went back.
    assert workers.count("Warm shutdown") == 2, workers.log()

    # What they had not taken is still queued: a new worker delivers every contact.
    stack.emulator.set_faults(latency_ms=0)
    stack.start_worker()
    for index in range(TASKS):
        stack.wait_contact(f"orphan{index}@example.com", tags=["orphan"])
    assert stack.dead_letters() == []


CHILD = textwrap.dedent(
    """
    import os, sys, time
    from sendx_worker.cli.parent import follow_parent
    print(follow_parent(int(sys.argv[1]), death_signal=sys.argv[2] == "pdeathsig"), flush=True)
    time.sleep(120)
    """
)
PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(__import__("os").getpid()), sys.argv[2]])
    print(child.pid, flush=True)
    time.sleep(120)
    """
)


@pytest.mark.parametrize("how", ["pdeathsig", "watch"])
def test_a_process_following_its_parent_gets_sigterm_when_the_parent_is_sigkilled(how: str) -> None:
    if how == "pdeathsig" and not sys.platform.startswith("linux"):
        pytest.skip("prctl(PR_SET_PDEATHSIG) is Linux only")
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD, how], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert parent.stdout is not None
    output = CollectedOutput(parent.stdout)
    child: psutil.Process | None = None
    try:
        wait_for(lambda: len(output.lines) >= 2, timeout=60, what="the child to follow its parent")
        child = psutil.Process(int(output.lines[0]))
        assert output.lines[1].strip() == how
        parent.kill()
        parent.wait(timeout=30)
        wait_for(lambda: gone(child), timeout=30, what="the child to stop")
    finally:
        if child is not None:
            with contextlib.suppress(psutil.Error):
                child.kill()
        if parent.poll() is None:
            parent.kill()


def test_a_parent_already_gone_is_noticed_at_once() -> None:
    received: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: received.append(signum))
    try:
        assert follow_parent(os.getppid() + 1_000_000, signal.SIGUSR1, death_signal=False) == "gone"
        wait_for(lambda: received, timeout=10, what="the signal")
    finally:
        signal.signal(signal.SIGUSR1, previous)
