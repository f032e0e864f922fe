"""The one settings object, read from the environment once and validated.

Every knob sendx-worker has is here; nothing else reads ``os.environ``. A bad
value raises :class:`~sendx_worker.errors.ConfigurationError` naming the variable.
That includes the standard proxy and CA-bundle variables (``HTTPS_PROXY``,
``NO_PROXY``, ``REQUESTS_CA_BUNDLE``...), which ``requests`` would otherwise re-read
on every call to SendX (see :mod:`sendx_worker.proxies`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .flow.settings import FlowSettings, load_flow_settings
from .limits import team_problem
from .proxies import Proxies, proxy_url_problem, redact_url

__all__ = ["DEFAULT_BASE_URLS", "ConsoleSettings", "Credentials", "Flavor", "Settings", "load_settings"]

Flavor = Literal["v1", "rest"]
FLAVORS: tuple[Flavor, ...] = ("v1", "rest")

DEFAULT_BASE_URLS: Mapping[Flavor, str] = {
    "v1": "https://app.sendx.io/api/v1",
    "rest": "https://api.sendx.io/api/v1/rest",
}

# Retry defaults. A first retry after ~5 s clears a blip without hammering SendX;
# doubling reaches the 10-minute cap after 7 attempts, so after a long outage a
# message waits at most 10 minutes past SendX's recovery, and a 72-hour outage
# costs each message about 430 cheap attempts rather than thousands.
DEFAULT_RETRY_BASE_S = 5.0
DEFAULT_RETRY_CAP_S = 600.0
DEFAULT_RETRY_WINDOW_S = 72 * 3600.0
DEFAULT_TIMEOUT_S = 10.0
# A message that kills its worker this many times is dead-lettered as poison.
# Prefetched messages are handed back when a worker dies too, so the count has
# room for a few crashes that were not the message's fault.
DEFAULT_MAX_DELIVERIES = 5
# The state store's file beside the embedded broker, in SENDX_DATA_DIR.
STATE_FILE = "state.sqlite3"
# The console's replay jobs put this many dead letters per second back on `sendx` unless
# the operator says otherwise: a backlog of thousands drains in minutes without a burst.
DEFAULT_CONSOLE_REPLAY_RATE = 10.0
MAX_CONSOLE_REPLAY_RATE = 1000.0


@dataclass(frozen=True)
class Credentials:
    """One SendX team's credentials; the key never shows in ``repr``."""

    api_key: str = field(repr=False)
    team_id: str | None = None

    def __repr__(self) -> str:
        return f"Credentials(api_key='***', team_id={self.team_id!r})"


@dataclass(frozen=True)
class ConsoleSettings:
    """The web console's settings (``sendx-worker console``); credentials never show in ``repr``."""

    token: str | None = field(default=None, repr=False)
    users: Mapping[str, str] = field(default_factory=dict, repr=False)
    read_only: bool = False
    replay_rate: float = DEFAULT_CONSOLE_REPLAY_RATE

    @property
    def has_auth(self) -> bool:
        """True when a token or basic-auth users are configured."""
        return bool(self.token or self.users)


@dataclass(frozen=True)
class Settings:
    """Everything configurable, validated; build it with :func:`load_settings`."""

    api_key: str | None = field(default=None, repr=False)
    team_id: str | None = None
    api_flavor: Flavor = "v1"
    base_url: str = DEFAULT_BASE_URLS["v1"]
    timeout_s: float = DEFAULT_TIMEOUT_S
    # Out of the repr: a broker URL carries the broker's password.
    broker_url: str | None = field(default=None, repr=False)
    data_dir: Path = Path(".sendx")
    retry_base_s: float = DEFAULT_RETRY_BASE_S
    retry_cap_s: float = DEFAULT_RETRY_CAP_S
    retry_window_s: float = DEFAULT_RETRY_WINDOW_S
    teams: Mapping[str, Credentials] = field(default_factory=dict, repr=False)
    log_format: Literal["kv", "json"] = "kv"
    metrics_port: int | None = None
    max_deliveries: int = DEFAULT_MAX_DELIVERIES
    task_events: bool = False
    proxies: Proxies = field(default_factory=Proxies)
    ca_bundle: Path | None = None
    # Out of the repr, like the broker URL: it may carry the store's password.
    state_url: str | None = field(default=None, repr=False)
    ordering: bool = True
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    flow: FlowSettings = field(default_factory=FlowSettings)

    @property
    def effective_broker_url(self) -> str:
        """The broker: ``CELERY_BROKER_URL``, or the embedded filesystem broker."""
        # With a host part, so that kombu does not warn "No hostname was supplied".
        return self.broker_url or "filesystem://localhost/"

    @property
    def uses_embedded_broker(self) -> bool:
        """True when the broker is the embedded, server-less filesystem one."""
        return self.effective_broker_url.startswith("filesystem:")

    @property
    def effective_state_url(self) -> str | None:
        """The state store: ``SENDX_STATE_URL``, else the broker's Redis, SQLite beside the
        embedded broker, memory beside the in-memory one; None on RabbitMQ without one."""
        if self.state_url is not None:
            return self.state_url
        broker = self.effective_broker_url
        if broker.startswith(("redis:", "rediss:")):
            return broker
        if self.uses_embedded_broker:
            return f"sqlite:///{(self.data_dir / STATE_FILE).resolve()}"
        if broker.startswith("memory:"):
            return "memory://"
        return None

    def require_state_url(self) -> str:
        """The state store's URL for ordering; raises ConfigurationError naming SENDX_STATE_URL if there is none."""
        url = self.effective_state_url
        if url is None:
            raise ConfigurationError(
                "SENDX_STATE_URL",
                "is required with a RabbitMQ broker: per-contact ordering keeps its state there "
                "(redis://... or postgresql://...); or set SENDX_ORDERING=off to deliver without ordering",
            )
        return url

    @property
    def default_credentials(self) -> Credentials | None:
        """The credentials from ``SENDX_API_KEY``/``SENDX_TEAM_ID``, if set."""
        if self.api_key is None:
            return None
        return Credentials(api_key=self.api_key, team_id=self.team_id)

    def credentials_for(self, team: str | None) -> Credentials:
        """The credentials for ``team`` (None: the default team).

        Raises ConfigurationError when they are missing, naming what to set.
        """
        if team is None:
            creds = self.default_credentials
            if creds is None:
                raise ConfigurationError("SENDX_API_KEY", "is not set; the worker refuses to call SendX without it")
        else:
            found = self.teams.get(team)
            if found is None:
                known = ", ".join(sorted(self.teams)) or "none"
                raise ConfigurationError("SENDX_TEAMS", f"has no team named {team!r} (configured: {known})")
            creds = found
        if self.api_flavor == "v1" and not creds.team_id:
            variable = "SENDX_TEAM_ID" if team is None else "SENDX_TEAMS"
            raise ConfigurationError(variable, "a team id is required with SENDX_API_FLAVOR=v1")
        return creds


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings from ``environ`` (default: ``os.environ``)."""
    env = os.environ if environ is None else environ

    flavor_raw = _text(env, "SENDX_API_FLAVOR") or "v1"
    if flavor_raw not in FLAVORS:
        raise ConfigurationError("SENDX_API_FLAVOR", f"must be 'v1' or 'rest', not {flavor_raw!r}")
    flavor: Flavor = "v1" if flavor_raw == "v1" else "rest"

    base_url = _text(env, "SENDX_BASE_URL") or DEFAULT_BASE_URLS[flavor]
    _check_base_url(base_url)

    retry_base = _seconds(env, "SENDX_RETRY_BASE_S", DEFAULT_RETRY_BASE_S)
    retry_cap = _seconds(env, "SENDX_RETRY_CAP_S", DEFAULT_RETRY_CAP_S)
    if retry_cap < retry_base:
        raise ConfigurationError(
            "SENDX_RETRY_CAP_S", f"({retry_cap:g}) must not be less than SENDX_RETRY_BASE_S ({retry_base:g})"
        )

    log_format = _text(env, "SENDX_LOG_FORMAT") or "kv"
    if log_format not in ("kv", "json"):
        raise ConfigurationError("SENDX_LOG_FORMAT", f"must be 'kv' or 'json', not {log_format!r}")

    return Settings(
        api_key=_text(env, "SENDX_API_KEY"),
        team_id=_text(env, "SENDX_TEAM_ID"),
        api_flavor=flavor,
        base_url=base_url.rstrip("/"),
        timeout_s=_seconds(env, "SENDX_TIMEOUT", DEFAULT_TIMEOUT_S),
        broker_url=_text(env, "CELERY_BROKER_URL"),
        data_dir=Path(_text(env, "SENDX_DATA_DIR") or ".sendx"),
        retry_base_s=retry_base,
        retry_cap_s=retry_cap,
        retry_window_s=_seconds(env, "SENDX_RETRY_WINDOW_S", DEFAULT_RETRY_WINDOW_S),
        teams=_teams(env, "SENDX_TEAMS"),
        log_format="json" if log_format == "json" else "kv",
        metrics_port=_port(env, "SENDX_METRICS_PORT"),
        max_deliveries=_count(env, "SENDX_MAX_DELIVERIES", DEFAULT_MAX_DELIVERIES),
        task_events=_flag(env, "SENDX_TASK_EVENTS"),
        proxies=_proxies(env),
        ca_bundle=_ca_bundle(env),
        state_url=_state_url(env, "SENDX_STATE_URL"),
        ordering=_on_off(env, "SENDX_ORDERING", default=True),
        console=_console(env),
        flow=load_flow_settings(env),
    )


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(name, f"must be a number of seconds, not {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ConfigurationError(name, f"must be a positive, finite number of seconds, not {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (_text(env, name) or "0").lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(name, f"must be 1 or 0 (true/false), not {raw!r}")


def _on_off(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = (_text(env, name) or ("on" if default else "off")).lower()
    if raw in ("on", "1", "true", "yes"):
        return True
    if raw in ("off", "0", "false", "no"):
        return False
    raise ConfigurationError(name, f"must be on or off, not {raw!r}")


def _state_url(env: Mapping[str, str], name: str) -> str | None:
    url = _text(env, name)
    if url is None:
        return None
    from .state import state_url_problem

    problem = state_url_problem(url)
    if problem is not None:
        # The URL may hold the store's password: never show it whole.
        raise ConfigurationError(name, f"{problem}, not {redact_url(url)!r}")
    return url


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = _text(env, name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(name, f"must be a whole number of at least 1, not {raw!r}")
    return int(raw)


def _port(env: Mapping[str, str], name: str) -> int | None:
    raw = _text(env, name)
    if raw is None:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigurationError(name, f"must be a TCP port from 1 to 65535, not {raw!r}")
    return int(raw)


def _check_base_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError("SENDX_BASE_URL", f"must be an http(s) URL, not {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            "SENDX_BASE_URL", "must use https (plain http is allowed only for a loopback host such as the emulator)"
        )


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _standard(env: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """(variable, value) of a variable tools spell in either case, or None.

    The lower-case spelling wins, and set but empty it unsets the other, as in
    urllib's ``getproxies_environment`` (which ``requests`` uses).
    """
    lower = name.lower()
    if lower in env:
        value = env[lower].strip()
        return (lower, value) if value else None
    upper = _text(env, name)
    return (name, upper) if upper else None


def _proxies(env: Mapping[str, str]) -> Proxies:
    urls: dict[str, str | None] = {}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        found = _standard(env, name)
        if found is not None:
            variable, url = found
            problem = proxy_url_problem(url)
            if problem is not None:
                # The value may hold the proxy's password: never show it whole.
                raise ConfigurationError(variable, f"{problem}, not {redact_url(url)!r}")
        urls[name] = found[1] if found else None
    no_proxy = _standard(env, "NO_PROXY")
    return Proxies(
        http=urls["HTTP_PROXY"],
        https=urls["HTTPS_PROXY"],
        all=urls["ALL_PROXY"],
        no_proxy=no_proxy[1] if no_proxy else None,
    )


def _ca_bundle(env: Mapping[str, str]) -> Path | None:
    # requests' order: REQUESTS_CA_BUNDLE, then CURL_CA_BUNDLE; a file or a c_rehash'ed folder.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        raw = _text(env, name)
        if raw is not None:
            path = Path(raw)
            if not path.exists():
                raise ConfigurationError(name, f"names {raw!r}, which does not exist")
            return path
    return None


def _teams(env: Mapping[str, str], name: str) -> dict[str, Credentials]:
    raw = _text(env, name)
    if raw is None:
        return {}
    if raw.startswith("@"):
        path = Path(raw[1:])
        try:
            raw = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(name, f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise ConfigurationError(
            name, 'must be a JSON object such as {"eu": {"api_key": "...", "team_id": "..."}}'
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(name, "must be a JSON object mapping team names to credentials")
    teams: dict[str, Credentials] = {}
    for team, creds in data.items():
        problem = team_problem(team)
        if problem is not None:
            raise ConfigurationError(name, f"team {team!r}: {problem}")
        if not isinstance(creds, dict) or not isinstance(creds.get("api_key"), str) or not creds["api_key"]:
            raise ConfigurationError(name, f"team {team!r} needs a non-empty string 'api_key'")
        team_id = creds.get("team_id")
        if team_id is not None and not isinstance(team_id, str):
            raise ConfigurationError(name, f"team {team!r}: 'team_id' must be a string")
        teams[team] = Credentials(api_key=creds["api_key"], team_id=team_id)
    return teams


def _console(env: Mapping[str, str]) -> ConsoleSettings:
    token = _text(env, "SENDX_CONSOLE_TOKEN")
    if token is not None and len(token) < 16:
        raise ConfigurationError("SENDX_CONSOLE_TOKEN", "must be at least 16 characters (try: openssl rand -hex 24)")
    return ConsoleSettings(
        token=token,
        users=_console_users(env, "SENDX_CONSOLE_USERS"),
        read_only=_flag(env, "SENDX_CONSOLE_READ_ONLY"),
        replay_rate=_replay_rate(env, "SENDX_CONSOLE_REPLAY_RATE"),
    )


def _replay_rate(env: Mapping[str, str], name: str) -> float:
    raw = _text(env, name)
    if raw is None:
        return DEFAULT_CONSOLE_REPLAY_RATE
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value <= MAX_CONSOLE_REPLAY_RATE:
        raise ConfigurationError(name, f"must be a number of dead letters per second from 0 to 1000, not {raw!r}")
    return value


def _console_users(env: Mapping[str, str], name: str) -> dict[str, str]:
    """``alice:pw1,bob:pw2`` (or ``@file`` with one ``name:password`` a line): basic-auth users."""
    raw = _text(env, name)
    if raw is None:
        return {}
    entries = raw.split(",")
    if raw.startswith("@"):
        path = Path(raw[1:])
        try:
            entries = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigurationError(name, f"cannot read {path}: {exc.strerror}") from None
    users: dict[str, str] = {}
    for number, entry in enumerate(entries, 1):
        if not entry.strip():
            continue
        user, colon, password = entry.strip().partition(":")
        # The entry holds a password: only its position is ever shown.
        if not colon or not user or len(password) < 8:
            raise ConfigurationError(name, f"entry {number} must be name:password with a password of 8+ characters")
        users[user] = password
    return users
