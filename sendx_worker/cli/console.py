"""``sendx-worker console``: the operator's web console, served until Ctrl-C.

It binds 127.0.0.1 by default, and refuses any address that is not loopback
unless authentication is configured (``SENDX_CONSOLE_TOKEN`` or
``SENDX_CONSOLE_USERS``): exit 2, nothing served.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

from ..logs import configure_logging
from ..settings import Settings, load_settings
from .common import EXIT_OK, UsageError, subcommand

if TYPE_CHECKING:
    from ..console import ConsoleApp

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "register", "serve_until_stopped"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8026

EXAMPLES = """\
examples:
  sendx-worker console                                   # http://127.0.0.1:8026/
  sendx-worker console --read-only                       # look, never change
  SENDX_CONSOLE_TOKEN=$(openssl rand -hex 24) sendx-worker console --host 0.0.0.0
  SENDX_CONSOLE_USERS=alice:pw-of-alice,bob:pw-of-bob sendx-worker console --host 10.0.0.5

On a non-loopback address the console needs SENDX_CONSOLE_TOKEN (basic auth with any user
name and the token as password, or "Authorization: Bearer TOKEN") or SENDX_CONSOLE_USERS;
put it behind TLS (a reverse proxy) there, as basic auth sends the credentials with every
request. Needs the console extra: pip install 'sendx-worker[console]'."""


def register(subparsers: Any) -> None:
    """Add ``console``."""
    parser = subcommand(
        subparsers,
        "console",
        help="serve the web console: queues, workers, breaker, dead letters",
        description="Serve the operator's web console until interrupted.",
        examples=EXAMPLES,
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any)")
    parser.add_argument(
        "--read-only", action="store_true", help="show everything, change nothing (or SENDX_CONSOLE_READ_ONLY=1)"
    )
    parser.set_defaults(handler=run, configures_logging=False)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port from 0 to 65535")
    return int(text)


def run(args: argparse.Namespace) -> int:
    """Check the address, build the console, serve it until Ctrl-C or SIGTERM."""
    configure_logging(args.log_format or _log_format(), logging.INFO)
    settings = load_settings()
    check_address(args.host, settings)
    console = build_console(settings, read_only=True if args.read_only else None)
    serve_until_stopped(console, args.host, args.port)
    return EXIT_OK


def _log_format() -> Any:
    try:
        return load_settings().log_format
    except Exception:
        return "kv"


def check_address(host: str, settings: Settings) -> None:
    """UsageError for a non-loopback address without authentication configured."""
    from ..console.guard import is_loopback

    if not is_loopback(host) and not settings.console.has_auth:
        raise UsageError(
            f"refusing to listen on {host} without authentication: set SENDX_CONSOLE_TOKEN "
            "(or SENDX_CONSOLE_USERS), or listen on 127.0.0.1"
        )


def build_console(settings: Settings, *, read_only: bool | None = None) -> ConsoleApp:
    """The console for ``settings``; a one-line error when Jinja2 (the console extra) is missing."""
    try:
        from ..console import create_console
    except ImportError as exc:
        raise UsageError(
            f"the console needs the console extra ({exc.name} is missing): pip install 'sendx-worker[console]'"
        ) from None
    return create_console(settings, read_only=read_only)


def serve_until_stopped(console: ConsoleApp, host: str, port: int, announce: str = "sendx-worker console") -> None:
    """Serve ``console`` on ``host:port``, print its URL, return after Ctrl-C or SIGTERM."""
    from ..console.serve import serve

    try:
        server = serve(console, host, port)
    except OSError as exc:
        console.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    mode = " (read-only)" if console.guard.read_only else ""
    print(f"{announce}: http://{shown}:{bound_port}/{mode}; broker {console.broker_url}; Ctrl-C stops it", flush=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        print("stopping the console", file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
        console.close()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
