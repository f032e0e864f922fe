"""The supervising parent of ``worker --processes N``: a bare interpreter running cli/processes.py by path."""

from __future__ import annotations

import subprocess
import sys

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
