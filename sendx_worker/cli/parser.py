"""The argument parser of ``sendx-worker``, built apart from ``main`` so it can be inspected."""

from __future__ import annotations

import argparse
from typing import NoReturn

from .. import __version__
from ..emulator import command as emulator_command
from . import check, console, dead, demo, enqueue, worker
from .common import PROG, UsageError

__all__ = ["ParserWithOneLineErrors", "build_parser"]

DESCRIPTION = "SendX contact updates, delivered reliably by Celery workers."

EXAMPLES = """\
examples:
  sendx-worker demo                           # the whole pipeline on this machine: no broker, no SendX account
  sendx-worker worker                         # consume the `sendx` queue: one process per CPU, 64 threads each
  sendx-worker worker --processes 1           # one process (a container scaled by replicas)
  sendx-worker identify --email ada@example.com --first-name Ada --tag Developer
  sendx-worker track --email ada@example.com --add "paid user" --remove "trial user"
  sendx-worker dead list                      # what could not be delivered, and why
  sendx-worker check                          # is the configuration valid, are the broker and SendX reachable?
  sendx-worker console                        # the web console on http://127.0.0.1:8026/
  sendx-worker emulator --port 8025           # a local SendX stand-in

configuration: SENDX_API_KEY, SENDX_TEAM_ID, SENDX_BASE_URL, CELERY_BROKER_URL, SENDX_DATA_DIR, ...
(unset CELERY_BROKER_URL: an embedded broker in files under SENDX_DATA_DIR, default ./.sendx);
HTTPS_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE are read once at start-up, as requests reads them.

exit codes: 0 success, 1 failure, 2 bad usage or invalid input, 130 interrupted."""


class ParserWithOneLineErrors(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (raised, printed by ``main``) instead of usage + exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: global options and one subcommand per job."""
    parser = ParserWithOneLineErrors(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-format",
        choices=("kv", "json"),
        help="log lines as key=value or JSON (default: SENDX_LOG_FORMAT, else kv)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo.register(subparsers)
    worker.register(subparsers)
    emulator = subparsers.add_parser(
        "emulator", help="run the SendX emulator", description="Run the SendX emulator until interrupted."
    )
    emulator_command.add_arguments(emulator)
    emulator.set_defaults(handler=emulator_command.run)
    enqueue.register(subparsers)
    dead.register(subparsers)
    check.register(subparsers)
    console.register(subparsers)
    return parser
