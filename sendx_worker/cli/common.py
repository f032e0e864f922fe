"""What every command shares: the exit codes, the one-line errors, the subcommand parsers.

Light on purpose (no Celery, kombu or requests): the parser imports only this, and so
does ``sendx-worker worker --processes N`` until it becomes the supervising parent
(:mod:`.processes`, which repeats the exit codes it needs). What needs the
broker is in :mod:`.broker`, imported by the commands that talk to it when they run.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "CommandError",
    "UsageError",
    "report_error",
    "subcommand",
]

PROG = "sendx-worker"

#: The command did what was asked.
EXIT_OK = 0
#: Something outside the command line failed: the broker, SendX, a check.
EXIT_FAILURE = 1
#: Bad usage or invalid input: nothing was done, fix the command line or the configuration.
EXIT_USAGE = 2
#: Interrupted with Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """Raised by a command to stop with one line on stderr and an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


class UsageError(CommandError):
    """Raised when the command line itself is wrong (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


def report_error(message: str) -> None:
    """Print ``sendx-worker: error: MESSAGE`` as one line on stderr, control characters escaped."""
    from .output import printable

    one_line = printable(" ".join(str(message).split()))
    print(f"{PROG}: error: {one_line}", file=sys.stderr, flush=True)


def subcommand(subparsers: Any, name: str, *, help: str, description: str, examples: str) -> argparse.ArgumentParser:  # noqa: A002
    """Add one command, with its description and examples shown by ``--help``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser
