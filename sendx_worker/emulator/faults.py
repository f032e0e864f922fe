"""Fault injection: the configuration, per-e-mail scripts, and the decision for each request.

Keys (constructor, CLI flags, ``Emulator.set_faults`` and ``POST /_emulator/faults``):

================  ========  ====================================================================
key               default   effect on an API request
================  ========  ====================================================================
latency_ms        0         added before every API response
error_rate        0         fraction answered ``error_status`` without applying anything
error_status      503
throttle_rate     0         fraction answered 429 with ``Retry-After: retry_after``
retry_after       1         seconds (or any header text); None sends no header
timeout_rate      0         fraction answered 504 only after ``slow_s``, without applying
slow_s            30
outage            None      ``"refuse"``: the port refuses connections; ``"reset"``: every
                            API connection is reset (admin paths keep working)
script            {}        e-mail -> list of steps, one consumed per request for that e-mail;
                            the key ``"*"`` serves any request whose e-mail has no steps left
seed              0         seeds the ``random.Random`` that draws the rates; setting it
                            (even to the same value) restarts the draws
rate_limit        None      requests per second (``200`` or ``"200/s"``) of a token bucket in
                            front of everything else: past it, 429 with ``Retry-After`` (the
                            seconds until a token, rounded up, at least 1), nothing applied
rate_limit_burst  None      the bucket's size; None: one second's worth (``rate_limit``, at
                            least 1). Setting either key refills the bucket
================  ========  ====================================================================

A step is an int status (2xx: process normally and answer it; other: answer it and
apply nothing), ``{"status": 500, "apply": true, "retry_after": 2}`` (``apply``: apply
the change, then answer the status: "SendX did it but the answer was lost"),
``"timeout"`` or ``"reset"`` (drop the connection without an answer). A request whose
e-mail has a step left (or, failing that, a request when ``"*"`` has one) follows it and
draws nothing; otherwise, when any rate is set,
exactly one ``random()`` is drawn per request and compared with the bands timeout,
throttle, error in that order, so a seed fixes how many requests fail.

The rate limit comes first: a request past the bucket consumes no step and draws
nothing; it is counted as ``rate_limited`` in the emulator's stats. An outage comes
before the rate limit (a refused or reset connection takes no token).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from .bucket import TokenBucket, parse_rate, retry_after_header

__all__ = ["ANY_EMAIL", "Decision", "FaultConfig", "Faults", "Step", "parse_step"]

#: The script key whose steps serve a request whose own e-mail has none.
ANY_EMAIL = "*"

Outage = Literal["refuse", "reset"]
Action = Literal["process", "fail", "apply_then_fail", "timeout", "reset"]
_RATES = ("timeout_rate", "throttle_rate", "error_rate")
_UNSET: Any = object()


@dataclass(frozen=True)
class Step:
    """One scripted answer: a status (optionally applied first), a timeout or a reset."""

    kind: Literal["status", "timeout", "reset"]
    status: int = 200
    apply: bool = False
    retry_after: Any = _UNSET  # _UNSET: the configured retry_after for a 429, else none

    def as_json(self) -> Any:
        """The step as it is written in a script."""
        if self.kind != "status":
            return self.kind
        if not self.apply and self.retry_after is _UNSET:
            return self.status
        data: dict[str, Any] = {"status": self.status, "apply": self.apply}
        if self.retry_after is not _UNSET:
            data["retry_after"] = self.retry_after
        return data


@dataclass(frozen=True)
class Decision:
    """What to do with one API request; ``delay_s`` is waited before answering."""

    action: Action
    status: int = 200
    retry_after: str | None = None
    delay_s: float = 0.0
    rate_limited: bool = False  # a 429 from the token bucket (not from a script or throttle_rate)


@dataclass(frozen=True)
class FaultConfig:
    """Every fault setting except the (consumable) script; see the module docstring."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    throttle_rate: float = 0.0
    retry_after: int | float | str | None = 1
    timeout_rate: float = 0.0
    slow_s: float = 30.0
    outage: Outage | None = None
    seed: int | None = 0
    rate_limit: float | None = None
    rate_limit_burst: float | None = None

    def updated(self, changes: Mapping[str, Any]) -> FaultConfig:
        """A copy with ``changes`` applied; raise ValueError naming the first bad key."""
        unknown = sorted(set(changes) - {f for f in asdict(self)})
        if unknown:
            raise ValueError(f"unknown fault setting {unknown[0]!r}")
        if "rate_limit" in changes:
            changes = {**changes, "rate_limit": parse_rate(changes["rate_limit"])}
        new = replace(self, **changes)
        burst = new.rate_limit_burst
        if burst is not None and (not _is_number(burst) or burst < 1):
            raise ValueError("rate_limit_burst: must be a number >= 1 or null")
        for name in ("latency_ms", "slow_s", *_RATES):
            value = getattr(new, name)
            if not _is_number(value) or value < 0 or (name in _RATES and value > 1):
                raise ValueError(f"{name}: must be a number {'from 0 to 1' if name in _RATES else '>= 0'}")
        if sum(getattr(new, name) for name in _RATES) > 1:
            raise ValueError("timeout_rate + throttle_rate + error_rate must not exceed 1")
        if not _is_status(new.error_status) or new.error_status < 300:
            raise ValueError("error_status: must be an HTTP status from 300 to 599")
        _check_retry_after(new.retry_after, "retry_after")
        if new.outage not in (None, "refuse", "reset"):
            raise ValueError("outage: must be null, 'refuse' or 'reset'")
        if new.seed is not None and (isinstance(new.seed, bool) or not isinstance(new.seed, int)):
            raise ValueError("seed: must be an integer or null")
        return new


class Faults:
    """The live fault state, shared by the request threads; every method is thread-safe."""

    def __init__(
        self,
        config: FaultConfig | None = None,
        script: Mapping[str, Any] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self.config = FaultConfig()
        self._script: dict[str, deque[Step]] = {}
        self._rng = random.Random(0)
        self._clock = clock
        self._bucket: TokenBucket | None = None
        self.restore(config or FaultConfig(), script or {})

    def restore(self, config: FaultConfig, script: Mapping[str, Any]) -> None:
        """Replace everything: the configuration, the script, and the random draws (reseeded)."""
        steps = _parse_script(script)
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._script = {email: deque(items) for email, items in steps.items() if items}
            self._bucket = self._new_bucket(config)

    def update(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a partial update (``script`` merges by e-mail); return the new configuration."""
        changes = dict(changes)
        script = _parse_script(changes.pop("script", {}))
        with self._lock:
            config = self.config.updated(changes)
            if "seed" in changes:
                self._rng = random.Random(config.seed)
            if "rate_limit" in changes or "rate_limit_burst" in changes:
                self._bucket = self._new_bucket(config)
            self.config = config
            for email, steps in script.items():
                if steps:
                    self._script[email] = deque(steps)
                else:
                    self._script.pop(email, None)
            return self._as_json()

    def as_json(self) -> dict[str, Any]:
        """The configuration and the steps still to come, as JSON-ready data."""
        with self._lock:
            return self._as_json()

    def decide(self, email: str | None) -> Decision:
        """Consume this e-mail's next step, or draw from the rates; say what to do."""
        config = self.config
        latency = config.latency_ms / 1000
        with self._lock:
            if self._bucket is not None and (wait := self._bucket.take()) > 0:
                return Decision("fail", 429, retry_after_header(wait), latency, rate_limited=True)
            key = email if email is not None and email in self._script else ANY_EMAIL
            if steps := self._script.get(key):
                step = steps.popleft()
                if not steps:
                    del self._script[key]
                return _from_step(step, config, latency)
            if not (config.timeout_rate or config.throttle_rate or config.error_rate):
                return Decision("process", delay_s=latency)
            draw = self._rng.random()
        if draw < config.timeout_rate:
            return Decision("timeout", 504, delay_s=config.slow_s)
        if draw < config.timeout_rate + config.throttle_rate:
            return Decision("fail", 429, _header(config.retry_after), latency)
        if draw < config.timeout_rate + config.throttle_rate + config.error_rate:
            return Decision("fail", config.error_status, delay_s=latency)
        return Decision("process", delay_s=latency)

    def _new_bucket(self, config: FaultConfig) -> TokenBucket | None:
        if config.rate_limit is None:
            return None
        return TokenBucket(config.rate_limit, config.rate_limit_burst, self._clock)

    def _as_json(self) -> dict[str, Any]:
        data = asdict(self.config)
        data["script"] = {email: [step.as_json() for step in steps] for email, steps in self._script.items()}
        return data


def parse_step(raw: Any) -> Step:
    """A script step from its JSON form; raise ValueError when it is not one."""
    if raw in ("timeout", "reset"):
        return Step(raw)
    if _is_status(raw):
        return Step("status", raw)
    if isinstance(raw, dict) and _is_status(raw.get("status")) and set(raw) <= {"status", "apply", "retry_after"}:
        apply = raw.get("apply", False)
        if not isinstance(apply, bool):
            raise ValueError("script: a step's 'apply' must be true or false")
        retry_after = raw.get("retry_after", _UNSET)
        if retry_after is not _UNSET:
            _check_retry_after(retry_after, "script: a step's 'retry_after'")
        return Step("status", raw["status"], apply, retry_after)
    raise ValueError(
        f"script: {raw!r} is not a step (a status 200-599, 'timeout', 'reset' or "
        '{"status": 500, "apply": true, "retry_after": 2})'
    )


def _parse_script(raw: Any) -> dict[str, list[Step]]:
    if not isinstance(raw, dict) or not all(isinstance(steps, list) for steps in raw.values()):
        raise ValueError("script: must be an object mapping e-mail addresses to lists of steps")
    return {email: [parse_step(step) for step in steps] for email, steps in raw.items()}


def _from_step(step: Step, config: FaultConfig, latency: float) -> Decision:
    if step.kind == "reset":
        return Decision("reset")
    if step.kind == "timeout":
        return Decision("timeout", 504, delay_s=config.slow_s)
    retry_after = step.retry_after
    if retry_after is _UNSET:
        retry_after = config.retry_after if step.status == 429 else None
    if 200 <= step.status < 300:
        return Decision("process", step.status, _header(retry_after), latency)
    action: Action = "apply_then_fail" if step.apply else "fail"
    return Decision(action, step.status, _header(retry_after), latency)


def _header(value: int | float | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return f"{value:g}"


def _check_retry_after(value: Any, name: str) -> None:
    if value is None or isinstance(value, str) or (_is_number(value) and value >= 0):
        return
    raise ValueError(f"{name}: must be a number of seconds >= 0, a header text, or null")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_status(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 200 <= value <= 599
