"""The flow-control settings (circuit breaker, adaptive concurrency, rate), read and validated.

Kept apart from :mod:`sendx_worker.settings` so that module does not grow; the one
settings object holds a :class:`FlowSettings` as ``settings.flow``. A bad value
raises ConfigurationError naming the variable.

Defaults, and why:

- ``SENDX_FLOW_CONTROL=on``: a SendX outage otherwise costs every queued message
  hundreds of attempts.
- ``SENDX_BREAKER_FAILURES=10``: ten transient failures in a row are not a blip;
  the rate rule (half of the last 40 calls, at least 20 of them) catches an outage
  that lets a few calls through.
- ``SENDX_BREAKER_OPEN_S=30``, doubling to ``SENDX_BREAKER_OPEN_MAX_S=300``: one
  probe per 30 s at first costs nothing, and after a long outage the backlog waits at
  most 5 minutes (jittered) past SendX's recovery.
- ``SENDX_HOLD_S=60``: a message that meets an open circuit waits in its worker that
  long (well under RabbitMQ's 30-minute ``consumer_timeout``), then is deferred.
- ``SENDX_MAX_CONCURRENCY=128``: calls in flight per team across the fleet; two
  processes of 64 threads fill it, and the adaptive limit moves below it.
- ``SENDX_RATE_LIMIT``: unset (SendX publishes no limit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ConfigurationError

__all__ = ["FlowSettings", "load_flow_settings"]

DEFAULT_FAILURES = 10
DEFAULT_OPEN_S = 30.0
DEFAULT_OPEN_MAX_S = 300.0
DEFAULT_HOLD_S = 60.0
DEFAULT_MAX_CONCURRENCY = 128


@dataclass(frozen=True)
class FlowSettings:
    """How the fleet backs off from SendX; see the module docstring for the defaults."""

    enabled: bool = True
    failures: int = DEFAULT_FAILURES
    open_s: float = DEFAULT_OPEN_S
    open_max_s: float = DEFAULT_OPEN_MAX_S
    hold_s: float = DEFAULT_HOLD_S
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    #: Requests per second per team across the fleet; None: no fixed limit.
    rate_limit: float | None = None


def load_flow_settings(env: Mapping[str, str]) -> FlowSettings:
    """The flow settings from ``env``; ConfigurationError names a bad variable."""
    enabled = _on_off(env, "SENDX_FLOW_CONTROL")
    open_s = _positive(env, "SENDX_BREAKER_OPEN_S", DEFAULT_OPEN_S)
    open_max_s = _positive(env, "SENDX_BREAKER_OPEN_MAX_S", max(DEFAULT_OPEN_MAX_S, open_s))
    if open_max_s < open_s:
        raise ConfigurationError(
            "SENDX_BREAKER_OPEN_MAX_S", f"({open_max_s:g}) must not be less than SENDX_BREAKER_OPEN_S ({open_s:g})"
        )
    rate = _text(env, "SENDX_RATE_LIMIT")
    return FlowSettings(
        enabled=enabled,
        failures=_whole(env, "SENDX_BREAKER_FAILURES", DEFAULT_FAILURES),
        open_s=open_s,
        open_max_s=open_max_s,
        hold_s=_positive(env, "SENDX_HOLD_S", DEFAULT_HOLD_S),
        max_concurrency=_whole(env, "SENDX_MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY),
        rate_limit=None if rate is None else _positive(env, "SENDX_RATE_LIMIT", 0.0, unit="requests per second"),
    )


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _on_off(env: Mapping[str, str], name: str) -> bool:
    raw = (_text(env, name) or "on").lower()
    if raw in ("on", "1", "true", "yes"):
        return True
    if raw in ("off", "0", "false", "no"):
        return False
    raise ConfigurationError(name, f"must be on or off, not {raw!r}")


def _positive(env: Mapping[str, str], name: str, default: float, *, unit: str = "seconds") -> float:
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise ConfigurationError(name, f"must be a positive, finite number of {unit}, not {raw!r}")
    return value


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    raw = _text(env, name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(name, f"must be a whole number of at least 1, not {raw!r}")
    return int(raw)
