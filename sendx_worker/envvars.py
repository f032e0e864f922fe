"""Readers of one environment variable each: a typed value, or ConfigurationError naming the variable.

Shared by every settings module (:mod:`sendx_worker.settings` and the ones kept apart
from it), so that one variable kind is checked, and worded, one way everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .errors import ConfigurationError

__all__ = ["count", "flag", "on_off", "port", "positive_number", "seconds", "text"]


def text(env: Mapping[str, str], name: str) -> str | None:
    """The variable stripped, or None when unset or blank."""
    value = env.get(name, "").strip()
    return value or None


def positive_number(
    env: Mapping[str, str], name: str, default: float, *, wanted: str, most: float = math.inf, in_range: str = ""
) -> float:
    """A finite number above 0 and at most ``most``, or ``default`` when unset.

    The errors say "must be ``wanted``" (not a number) and "must be ``in_range``" (out of
    range; ``wanted`` again when empty), each with the value given.
    """
    raw = text(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(name, f"must be {wanted}, not {raw!r}") from None
    if not 0 < value <= most or value == math.inf:
        raise ConfigurationError(name, f"must be {in_range or wanted}, not {raw!r}")
    return value


def seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive, finite number of seconds, or ``default`` when unset."""
    return positive_number(
        env, name, default, wanted="a number of seconds", in_range="a positive, finite number of seconds"
    )


def flag(env: Mapping[str, str], name: str) -> bool:
    """1/true/yes/on or 0/false/no/off (unset: off)."""
    raw = (text(env, name) or "0").lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(name, f"must be 1 or 0 (true/false), not {raw!r}")


def on_off(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    """on/1/true/yes or off/0/false/no (unset: ``default``)."""
    raw = (text(env, name) or ("on" if default else "off")).lower()
    if raw in ("on", "1", "true", "yes"):
        return True
    if raw in ("off", "0", "false", "no"):
        return False
    raise ConfigurationError(name, f"must be on or off, not {raw!r}")


def count(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole number of at least 1, or ``default`` when unset."""
    raw = text(env, name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(name, f"must be a whole number of at least 1, not {raw!r}")
    return int(raw)


def port(env: Mapping[str, str], name: str) -> int | None:
    """A TCP port from 1 to 65535, or None when unset."""
    raw = text(env, name)
    if raw is None:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigurationError(name, f"must be a TCP port from 1 to 65535, not {raw!r}")
    return int(raw)
