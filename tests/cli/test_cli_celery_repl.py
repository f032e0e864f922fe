"""A worker process builds Celery's command line without click-repl and prompt_toolkit (6.7 MB of RSS)."""

from __future__ import annotations

import subprocess
import sys

# Celery imports pygments itself when it is installed (celery/bin/base.py), so it is not here.
INTERACTIVE = ("click_repl", "prompt_toolkit", "wcwidth")


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.strip()


def test_celerys_command_line_is_built_without_the_interactive_shells_imports() -> None:
    code = (
        "import sys\n"
        "from sendx_worker.cli.celery_repl import leave_out_celery_repl\n"
        "leave_out_celery_repl()\n"
        "from celery.bin.celery import celery\n"
        "from celery.bin.amqp import amqp\n"
        f"real = [name for name in {INTERACTIVE!r} if name in sys.modules and hasattr(sys.modules[name], '__file__')]\n"
        "print(real, 'worker' in celery.commands, 'repl' in amqp.commands, 'queue.declare' in amqp.commands)\n"
    )
    assert _run(code) == "[] True False True"


def test_a_process_that_already_has_click_repl_keeps_it() -> None:
    code = (
        "import click_repl\n"
        "from sendx_worker.cli.celery_repl import leave_out_celery_repl\n"
        "leave_out_celery_repl()\n"
        "from celery.bin.amqp import amqp\n"
        "print('repl' in amqp.commands)\n"
    )
    assert _run(code) == "True"


def test_without_it_celery_would_import_prompt_toolkit() -> None:
    # What the stand-in is for: if Celery stops importing click-repl, it can go.
    assert _run("import sys; import celery.bin.celery; print('prompt_toolkit' in sys.modules)") == "True"
