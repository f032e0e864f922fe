"""``sendx-worker check``: is the configuration valid, and can the broker and SendX be reached?

One line per check, ``ok``/``FAIL``/``warn``/``skip`` and the detail; exit 1 when any
check fails. The credentials themselves are judged by the running workers, which
remember whether SendX recently rejected them (``sendx_health``): ``check`` sends
nothing to SendX that would change a contact.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from celery import Celery
from kombu.utils.url import maybe_sanitize_url

from ..celeryconf import embedded_broker_folder
from ..errors import ConfigurationError
from ..settings import Settings, load_settings
from .common import EXIT_FAILURE, EXIT_OK, producer_app, subcommand

__all__ = ["DEFAULT_TIMEOUT_S", "WORKER_REPLY_TIMEOUT_S", "Result", "recent_window_s", "register"]

DEFAULT_TIMEOUT_S = 5.0
# How long workers have to answer the health question; they answer from their event loop at once.
WORKER_REPLY_TIMEOUT_S = 1.5

EXAMPLES = """\
examples:
  sendx-worker check
  SENDX_BASE_URL=http://127.0.0.1:8025/api/v1 sendx-worker check --timeout 2

checks: configuration (the variables, and the default team's credentials); broker (a connection);
sendx (DNS, TCP and, for https, the TLS handshake); workers (whether running workers recently saw
SendX reject the credentials; no answer is a warning). Exit 1 when any check fails."""

Status = Literal["ok", "FAIL", "warn", "skip"]


@dataclass(frozen=True)
class Result:
    """The outcome of one check."""

    status: Status
    name: str
    detail: str

    def line(self) -> str:
        """``ok   broker         amqp://guest:**@localhost:5672//``."""
        return f"{self.status:<4} {self.name:<13} {self.detail}"


def register(subparsers: Any) -> None:
    """Add ``check``."""
    parser = subcommand(
        subparsers,
        "check",
        help="check the configuration, the broker and SendX",
        description="Check the configuration, and reach the broker, SendX and the running workers.",
        examples=EXAMPLES,
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS", help="per network check (default 5)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run every check, print one line each; 1 if any failed."""
    failed = False
    for result in checks(args.timeout):
        print(result.line(), flush=True)
        failed = failed or result.status == "FAIL"
    return EXIT_FAILURE if failed else EXIT_OK


def checks(timeout_s: float) -> Iterator[Result]:
    """The checks in order; later ones are skipped when what they need failed."""
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        yield Result("FAIL", "configuration", str(exc))
        for name in ("broker", "sendx", "workers"):
            yield Result("skip", name, "the configuration is invalid")
        return
    yield check_configuration(settings)
    with producer_app(settings) as app:
        broker = check_broker(app, settings, timeout_s)
        yield broker
        yield check_sendx(settings, timeout_s)
        if broker.status == "ok":
            yield check_workers(app, settings)
        else:
            yield Result("skip", "workers", "the broker is unreachable")


def check_configuration(settings: Settings) -> Result:
    """The settings loaded; the default team (and every SENDX_TEAMS team) has usable credentials."""
    try:
        creds = settings.credentials_for(None)
        for team in settings.teams:
            settings.credentials_for(team)
    except ConfigurationError as exc:
        return Result("FAIL", "configuration", str(exc))
    teams = f", teams {', '.join(sorted(settings.teams))}" if settings.teams else ""
    team = f"team {creds.team_id}" if creds.team_id else "no team id"
    return Result("ok", "configuration", f"flavor {settings.api_flavor}, {team}, API key set{teams}")


def check_broker(app: Celery, settings: Settings, timeout_s: float) -> Result:
    """A connection to the broker (for the embedded one: its folder is writable)."""
    url = maybe_sanitize_url(settings.effective_broker_url)
    if settings.uses_embedded_broker:
        folder = embedded_broker_folder(settings)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".sendx-check"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            return Result("FAIL", "broker", f"embedded broker folder {folder}: {exc.strerror or exc}")
        return Result("ok", "broker", f"embedded (files in {folder})")
    try:
        with app.connection_for_write(connect_timeout=timeout_s) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout_s)
            _ = connection.default_channel  # Redis connects lazily: make it talk
    except Exception as exc:
        return Result("FAIL", "broker", f"{url}: {type(exc).__name__}: {exc}")
    return Result("ok", "broker", url)


def check_sendx(settings: Settings, timeout_s: float) -> Result:
    """DNS, a TCP connection and, for https, a verified TLS handshake with SendX's host."""
    parts = urlsplit(settings.base_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    where = f"{settings.base_url}:"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return Result("FAIL", "sendx", f"{where} DNS lookup of {host} failed: {exc}")
    address = infos[0][4]
    try:
        sock = socket.create_connection((str(address[0]), port), timeout=timeout_s)
    except OSError as exc:
        return Result("FAIL", "sendx", f"{where} TCP connection to {address[0]} port {port} failed: {exc}")
    with sock:
        if parts.scheme != "https":
            return Result("ok", "sendx", f"{where} {host} resolves to {address[0]}, TCP port {port} open")
        try:
            context = ssl.create_default_context()
            with context.wrap_socket(sock, server_hostname=host) as tls:
                version = tls.version()
        except (OSError, ssl.SSLError) as exc:
            return Result("FAIL", "sendx", f"{where} TLS handshake with {host} failed: {exc}")
    return Result("ok", "sendx", f"{where} {host} resolves to {address[0]}, TCP port {port} open, {version}")


def recent_window_s(settings: Settings) -> float:
    """How far back a credentials rejection counts: a held message is retried at least this often."""
    return max(900.0, 2 * settings.retry_cap_s)


def check_workers(app: Celery, settings: Settings) -> Result:
    """Ask the running workers whether SendX recently rejected the credentials."""
    try:
        replies = app.control.broadcast("sendx_health", reply=True, timeout=WORKER_REPLY_TIMEOUT_S) or []
    except Exception as exc:
        return Result("warn", "workers", f"could not ask the workers: {type(exc).__name__}: {exc}")
    answers: dict[str, Any] = {}
    for reply in replies:
        if isinstance(reply, dict):
            answers.update(reply)
    if not answers:
        return Result("warn", "workers", f"no worker answered within {WORKER_REPLY_TIMEOUT_S:g} s")
    now = time.time()
    rejected = []
    for node, health in sorted(answers.items()):
        at = health.get("auth_rejected_at") if isinstance(health, dict) else None
        if isinstance(at, int | float) and now - at <= recent_window_s(settings):
            count = health.get("auth_rejections", 0)
            rejected.append(f"{node} ({count} rejection(s), last {now - at:.0f} s ago)")
    if rejected:
        return Result(
            "FAIL",
            "workers",
            "SendX rejected the credentials (401/403) seen by "
            + "; ".join(rejected)
            + ": fix SENDX_API_KEY/SENDX_TEAM_ID (or SENDX_TEAMS) and restart the workers",
        )
    nodes = ", ".join(sorted(answers))
    return Result("ok", "workers", f"{len(answers)} answered ({nodes}); none saw SendX reject the credentials")
