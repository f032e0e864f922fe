"""Start Celery's command line without its interactive shell, which a worker never opens.

``app.start()`` imports Celery's whole ``celery`` command, and with it ``celery amqp``,
whose ``repl`` subcommand comes from click-repl: click-repl imports prompt_toolkit,
which imports wcwidth, xml.dom and most of pygments. A worker process never runs
``celery amqp repl``, yet that import is 6.7 MB of its RSS, and the default runs one worker process
per CPU (docs/BENCHMARKS.md, "Memory"). So before Celery's command line is imported, a
stand-in for click-repl is put where Python looks first: ``celery amqp`` is built
without its ``repl`` subcommand, and every other command, option and error is Celery's
own. A process that has imported the real click-repl already keeps it.
"""

from __future__ import annotations

import sys
import types
from typing import Any

__all__ = ["STAND_IN_NAME", "leave_out_celery_repl"]

STAND_IN_NAME = "click_repl"


def _register_repl(group: Any, name: str = "repl") -> None:
    """click-repl's ``register_repl``, which would add ``name`` to ``group``: here, nothing."""


def leave_out_celery_repl() -> None:
    """Let Celery's command line be imported without click-repl (and prompt_toolkit) in this process."""
    if STAND_IN_NAME in sys.modules:
        return
    stand_in = types.ModuleType(STAND_IN_NAME, "Stand-in for click-repl in a worker process (sendx_worker.cli).")
    stand_in.register_repl = _register_repl  # type: ignore[attr-defined]
    sys.modules[STAND_IN_NAME] = stand_in
