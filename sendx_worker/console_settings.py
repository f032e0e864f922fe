"""The web console's settings (``sendx-worker console``), read from the environment.

Apart from :mod:`sendx_worker.settings` (which holds them as ``settings.console``)
so that neither grows past one concern; importable without the ``console`` extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .envvars import flag, positive_number, text
from .errors import ConfigurationError

__all__ = ["DEFAULT_CONSOLE_REPLAY_RATE", "MAX_CONSOLE_REPLAY_RATE", "ConsoleSettings", "load_console_settings"]

# The console's replay jobs put this many dead letters per second back on `sendx` unless
# the operator says otherwise: a backlog of thousands drains in minutes without a burst.
DEFAULT_CONSOLE_REPLAY_RATE = 10.0
MAX_CONSOLE_REPLAY_RATE = 1000.0


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


def load_console_settings(env: Mapping[str, str]) -> ConsoleSettings:
    """SENDX_CONSOLE_TOKEN, _USERS, _READ_ONLY and _REPLAY_RATE, checked."""
    token = text(env, "SENDX_CONSOLE_TOKEN")
    if token is not None and len(token) < 16:
        raise ConfigurationError("SENDX_CONSOLE_TOKEN", "must be at least 16 characters (try: openssl rand -hex 24)")
    return ConsoleSettings(
        token=token,
        users=_console_users(env, "SENDX_CONSOLE_USERS"),
        read_only=flag(env, "SENDX_CONSOLE_READ_ONLY"),
        replay_rate=_replay_rate(env, "SENDX_CONSOLE_REPLAY_RATE"),
    )


def _replay_rate(env: Mapping[str, str], name: str) -> float:
    return positive_number(
        env,
        name,
        DEFAULT_CONSOLE_REPLAY_RATE,
        wanted="a number of dead letters per second from 0 to 1000",
        most=MAX_CONSOLE_REPLAY_RATE,
    )


def _console_users(env: Mapping[str, str], name: str) -> dict[str, str]:
    """``alice:pw1,bob:pw2`` (or ``@file`` with one ``name:password`` a line): basic-auth users."""
    raw = text(env, name)
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
