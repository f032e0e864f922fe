"""``sendx-worker check``: is the configuration valid, and can the broker and SendX be reached?

One line per check, ``ok``/``FAIL``/``warn``/``skip`` and the detail; exit 1 when any
check fails. The credentials themselves are judged by the running workers, which
remember whether SendX recently rejected them (``sendx_health``): ``check`` sends
nothing to SendX that would change a contact.
"""

from __future__ import annotations

import argparse
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from ..masking import mask_broker_url
from ..proxies import redact_url
from ..settings import Settings, load_settings
from .common import EXIT_FAILURE, EXIT_OK, subcommand

if TYPE_CHECKING:
    import ssl

    from celery import Celery

__all__ = ["DEFAULT_TIMEOUT_S", "WORKER_REPLY_TIMEOUT_S", "Result", "recent_window_s", "register"]

DEFAULT_TIMEOUT_S = 5.0
# How long workers have to answer the health question; they answer from their event loop at once.
WORKER_REPLY_TIMEOUT_S = 1.5

EXAMPLES = """\
examples:
  sendx-worker check
  SENDX_BASE_URL=http://127.0.0.1:8025/api/v1 sendx-worker check --timeout 2

checks: configuration (the variables, and the default team's credentials); broker (a connection);
state (the store that orders each contact's events answers); circuit (each team's circuit breaker:
fails while one is open); sendx (DNS, TCP and, for https, the
TLS handshake); workers (whether running workers recently saw SendX reject the credentials; no
answer is a warning). Exit 1 when any check fails."""

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
        for name in ("broker", "state", "circuit", "sendx", "workers"):
            yield Result("skip", name, "the configuration is invalid")
        return
    yield check_configuration(settings)
    from ..flow.status import circuit_check
    from .broker import producer_app  # Celery is imported when a command needs it (see .common)

    with producer_app(settings) as app:
        broker = check_broker(app, settings, timeout_s)
        yield broker
        yield check_state(settings)
        status, detail = circuit_check(settings)
        yield Result(status, "circuit", detail)
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
    proxy = settings.proxies.for_url(settings.base_url)
    network = f", proxy {redact_url(proxy)}" if proxy else ""
    network += f", CA bundle {settings.ca_bundle}" if settings.ca_bundle else ""
    return Result("ok", "configuration", f"flavor {settings.api_flavor}, {team}, API key set{teams}{network}")


def check_broker(app: Celery, settings: Settings, timeout_s: float) -> Result:
    """A connection to the broker (for the embedded one: its folder is writable)."""
    from ..celeryconf import embedded_broker_folder

    url = mask_broker_url(settings.effective_broker_url)
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
    # Each URL of a failover list (kombu's ";") on its own: a node down is worth knowing
    # before it is the last one up.
    urls = settings.effective_broker_url.split(";")
    failures = [(one, failure) for one in urls if (failure := _unreachable(app, one, timeout_s)) is not None]
    if not failures:
        return Result("ok", "broker", url)
    if len(urls) == 1:
        return Result("FAIL", "broker", f"{url}: {failures[0][1]}")
    details = "; ".join(f"{mask_broker_url(one)}: {failure}" for one, failure in failures)
    if len(failures) == len(urls):
        return Result("FAIL", "broker", f"{url}: no node reachable: {details}")
    return Result("warn", "broker", f"{url}: {len(failures)} of {len(urls)} unreachable: {details}")


def _unreachable(app: Celery, url: str, timeout_s: float) -> str | None:
    """Why ``url`` cannot be connected to, or None when it can."""
    try:
        with app.connection_for_write(url=url, connect_timeout=timeout_s) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout_s)
            _ = connection.default_channel  # Redis connects lazily: make it talk
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def check_state(settings: Settings) -> Result:
    """The state store that orders each contact's events answers (skipped with ``SENDX_ORDERING=off``)."""
    if not settings.ordering:
        return Result("skip", "state", "SENDX_ORDERING=off: contacts' events are delivered unordered")
    try:
        url = settings.require_state_url()
    except ConfigurationError as exc:
        return Result("FAIL", "state", str(exc))
    from ..errors import StoreUnavailable
    from ..state import open_store

    try:
        store = open_store(url)
        try:
            store.ping()
        finally:
            store.close()
    except (StoreUnavailable, ConfigurationError) as exc:
        return Result("FAIL", "state", f"{exc}; messages wait (unsent) until the store is back")
    return Result("ok", "state", f"{redact_url(url)} (per-contact ordering on)")


def check_sendx(settings: Settings, timeout_s: float) -> Result:
    """DNS, a TCP connection and, for https, a verified TLS handshake with SendX's host.

    Behind a proxy (the settings' proxy variables, ``NO_PROXY`` honoured), DNS and a
    TCP connection to the proxy instead: the worker never connects to SendX directly then.
    """
    parts = urlsplit(settings.base_url)
    proxy = settings.proxies.for_url(settings.base_url)
    if proxy is not None:
        return _check_proxy(settings.base_url, proxy, timeout_s)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    where = f"{settings.base_url}:"
    reached = _reach(where, host, port, timeout_s)
    if isinstance(reached, Result):
        return reached
    sock, address = reached
    with sock:
        if parts.scheme != "https":
            return Result("ok", "sendx", f"{where} {host} resolves to {address}, TCP port {port} open")
        try:
            with _tls_context(settings).wrap_socket(sock, server_hostname=host) as tls:
                version = tls.version()
        except OSError as exc:  # ssl.SSLError included
            return Result("FAIL", "sendx", f"{where} TLS handshake with {host} failed: {exc}")
    return Result("ok", "sendx", f"{where} {host} resolves to {address}, TCP port {port} open, {version}")


def _check_proxy(base_url: str, proxy: str, timeout_s: float) -> Result:
    parts = urlsplit(proxy)
    host = parts.hostname or ""
    port = parts.port or _PROXY_PORTS.get(parts.scheme, 1080)
    # The proxy URL may hold a password: only its redacted form is shown.
    where = f"{base_url}: through the proxy {redact_url(proxy)}:"
    reached = _reach(where, host, port, timeout_s)
    if isinstance(reached, Result):
        return reached
    sock, address = reached
    sock.close()
    return Result("ok", "sendx", f"{where} {host} resolves to {address}, TCP port {port} open")


_PROXY_PORTS = {"http": 80, "https": 443}


def _reach(where: str, host: str, port: int, timeout_s: float) -> Result | tuple[socket.socket, str]:
    """A connected socket and the address it reached, or the failed Result."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return Result("FAIL", "sendx", f"{where} DNS lookup of {host} failed: {exc}")
    address = str(infos[0][4][0])
    try:
        sock = socket.create_connection((address, port), timeout=timeout_s)
    except OSError as exc:
        return Result("FAIL", "sendx", f"{where} TCP connection to {address} port {port} failed: {exc}")
    return sock, address


def _tls_context(settings: Settings) -> ssl.SSLContext:
    """The system's trusted roots, or the settings' CA bundle (a file or a folder) as the worker uses it."""
    import ssl  # 5 MB: imported by the one check that needs it (see .common)

    bundle = settings.ca_bundle
    if bundle is None:
        return ssl.create_default_context()
    if bundle.is_dir():
        return ssl.create_default_context(capath=str(bundle))
    return ssl.create_default_context(cafile=str(bundle))


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
