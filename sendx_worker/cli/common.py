"""What every command shares: the exit codes, the one-line errors, a producer app."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError
from kombu.utils.url import maybe_sanitize_url

from ..celery_app import create_app
from ..settings import Settings, load_settings

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "CommandError",
    "UsageError",
    "broker_errors",
    "producer_app",
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
    """Print ``sendx-worker: error: MESSAGE`` as one line on stderr."""
    one_line = " ".join(str(message).split())
    print(f"{PROG}: error: {one_line}", file=sys.stderr, flush=True)


@contextmanager
def producer_app(settings: Settings | None = None) -> Iterator[Celery]:
    """A Celery app for the configured broker, closed (its connections released) afterwards."""
    app = create_app(settings if settings is not None else load_settings())
    # Celery answers conf.broker_url from the CELERY_BROKER_URL variable when it is set,
    # before the app is configured and whatever the settings say: configure the app now
    # (settings_of() relies on that property to do it) and pin the URL it connects to,
    # so that the demo's settings win over a CELERY_BROKER_URL in the user's shell.
    url = app.conf["broker_url"]
    app.conf.broker_read_url = app.conf.broker_write_url = url
    try:
        yield app
    finally:
        app.close()


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


@contextmanager
def broker_errors(app: Celery) -> Iterator[None]:
    """Turn a failure to reach ``app``'s broker into one CommandError naming the broker (no password)."""
    try:
        yield
    except CommandError:
        raise
    except (OSError, OperationalError, *app.connection_for_write().connection_errors) as exc:
        url = maybe_sanitize_url(app.conf["broker_url"] or "")
        raise CommandError(f"cannot reach the broker at {url}: {type(exc).__name__}: {exc}") from exc
