"""The supervising parent of ``worker --processes N``: a bare interpreter running cli/processes.py by path."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from sendx_worker.cli import common, processes
from sendx_worker.cli.processes import supervisor_command


def test_its_exit_codes_and_name_are_the_command_lines() -> None:
    assert (processes.EXIT_OK, processes.EXIT_FAILURE, processes.EXIT_USAGE) == (
        common.EXIT_OK,
        common.EXIT_FAILURE,
        common.EXIT_USAGE,
    )
    assert processes.PROG == common.PROG


def test_it_runs_without_site_or_this_package_and_exits_as_its_children_did() -> None:
    report = (
        "import os, sys; "
        "parent = open(f'/proc/{os.getppid()}/cmdline').read().split(chr(0)); "
        "print(parent[1], parent[2].endswith('cli/processes.py'))"
    )
    done = subprocess.run(
        supervisor_command([[sys.executable, "-c", report]]), capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "-S True")

    usage = subprocess.run(
        supervisor_command([[sys.executable, "-c", "raise SystemExit(2)"], [sys.executable, "-c", "pass"]]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert usage.returncode == 2


def test_the_bare_interpreter_loads_nothing_of_this_package() -> None:
    code = (
        "import runpy, sys\n"
        "sys.argv = ['processes.py', '[]']\n"
        f"try:\n    runpy.run_path({processes.__file__!r}, run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(name for name in sys.modules if name.startswith(('sendx_worker', 'celery', 'site'))))\n"
    )
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_a_failure_found_while_the_others_have_exited_unreaped_stops_nothing_twice() -> None:
    """The race CI met once: the first child fails while another has exited and is not yet reaped.

    Stopping the others must not reap that one behind the wait loop's back (Popen's
    ``send_signal`` polls, and did), else the loop's next wait finds no child and raises.
    Both children are zombies before the loop starts, so the order is the race's every time.
    """
    script = (
        "import os, runpy, subprocess, sys, time\n"
        f"processes = runpy.run_path({processes.__file__!r})\n"
        "children = [subprocess.Popen([sys.executable, '-c', f'raise SystemExit({code})']) for code in (1, 0)]\n"
        "def zombie(pid):\n"
        "    with open(f'/proc/{pid}/stat') as stat:\n"
        "        return stat.read().rsplit(')', 1)[1].split()[0] == 'Z'\n"
        "deadline = time.monotonic() + 60\n"
        "while not all(zombie(child.pid) for child in children) and time.monotonic() < deadline:\n"
        "    time.sleep(0.01)\n"
        "print(sorted(processes['_wait_all'](children, lambda: False)))\n"
    )
    command = [sys.executable, "-S", "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "[0, 1]"), done.stderr
    assert "exited with 1; stopping the others" in done.stderr


@settings(max_examples=15)
@given(codes=st.lists(st.sampled_from([0, 0, 1, 2, 3]), min_size=1, max_size=4))
def test_any_mix_of_exits_ends_in_one_of_its_codes_never_a_crash(codes: list[int]) -> None:
    """Children exiting with any codes, at once or one after another: 0 only if all gave 0, never a traceback."""
    children = [[sys.executable, "-S", "-c", f"raise SystemExit({code})"] for code in codes]
    done = subprocess.run(supervisor_command(children), capture_output=True, text=True, timeout=120, check=False)
    assert "Traceback" not in done.stderr
    if all(code == 0 for code in codes):
        assert done.returncode == 0
    else:
        # The first failure decides (2: bad usage, else 1); the others may have been stopped by it.
        assert done.returncode in {2 if code == 2 else 1 for code in codes if code != 0}
