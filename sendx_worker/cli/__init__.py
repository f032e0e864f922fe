"""``sendx-worker``: the command line (also ``python -m sendx_worker``).

One module per command group: ``demo``, ``worker``, ``enqueue`` (identify, track),
``dead`` (dead letters), ``check``; the emulator's own command is mounted as
``sendx-worker emulator``. Every error ends as one line on stderr and an exit code
(:mod:`sendx_worker.cli.common`), never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from ..errors import ConfigurationError, PublishError, SendxError
from ..logs import configure_logging
from ..settings import load_settings
from .common import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CommandError, UsageError, report_error
from .parser import build_parser

if TYPE_CHECKING:
    from marshmallow import ValidationError

__all__ = ["main"]

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sendx-worker`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    try:
        return _run(argv)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except UsageError as exc:
        report_error(str(exc))
        return EXIT_USAGE
    except CommandError as exc:
        report_error(str(exc))
        return exc.code
    except ConfigurationError as exc:
        report_error(f"configuration: {exc}")
        return EXIT_USAGE
    except _validation_error() as exc:
        from ..schemas import describe_errors

        report_error(f"invalid input: {describe_errors(exc.messages)}")
        return EXIT_USAGE
    except PublishError as exc:
        report_error(str(exc))
        return EXIT_FAILURE
    except BrokenPipeError:
        # The reader went away (`sendx-worker dead list | head`): nothing more to say.
        _silence_stdout()
        return EXIT_FAILURE
    except SendxError as exc:
        report_error(str(exc))
        return EXIT_FAILURE
    except Exception as exc:
        logger.debug("unexpected error", exc_info=True)
        report_error(f"unexpected {type(exc).__name__}: {exc}")
        return EXIT_FAILURE


def _validation_error() -> type[ValidationError]:
    # An except clause's class is looked up only when an exception gets that far, so
    # marshmallow (5 MB) is imported on that error path only: the parser and the parent
    # of `worker --processes N` do without it (see .common).
    from marshmallow import ValidationError

    return ValidationError


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    args.extra = extra
    if extra and not getattr(args, "passes_extra", False):
        raise UsageError(f"unrecognized arguments: {' '.join(extra)} (see '{parser.prog} {args.command} --help')")
    if getattr(args, "configures_logging", True):
        _configure_logging(args)
    code: int = args.handler(args)
    return code


def _configure_logging(args: argparse.Namespace) -> None:
    configure_logging(_log_format(args), logging.WARNING)
    # kombu warns that "filesystem://" names no host, on every connection to the embedded broker.
    logging.getLogger("kombu.connection").addFilter(_NO_HOSTNAME_WARNING)


class _NoHostnameWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No hostname was supplied")


_NO_HOSTNAME_WARNING = _NoHostnameWarning()


def _log_format(args: argparse.Namespace) -> Literal["kv", "json"]:
    if args.log_format == "json":
        return "json"
    if args.log_format == "kv":
        return "kv"
    try:
        return load_settings().log_format
    except ConfigurationError:
        return "kv"  # the command reports the bad variable itself


def _silence_stdout() -> None:
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
