"""What a call's outcome tells flow control: SendX answered, failed, pushed back, or refused our key."""

from __future__ import annotations

from typing import Literal

from ..errors import ApiError, AuthError, ConnectionFailed, RateLimited, TransientError

__all__ = ["Kind", "kind_of"]

#: ``ok``: SendX answered (a 4xx about the message is an answer too); ``failed``: a transient
#: failure (5xx, refused, reset); ``pushback``: a timeout (also a failure, and the adaptive
#: limit falls); ``throttled``: a 429 (SendX is up and metering: the adaptive limit falls,
#: and it counts toward the breaker only at the limit's floor); ``auth``: 401/403.
Kind = Literal["ok", "failed", "pushback", "throttled", "auth"]


def kind_of(exc: BaseException | None) -> Kind:
    """The kind of a call's outcome: ``exc`` is what the call raised (None: it succeeded)."""
    if exc is None:
        return "ok"
    if isinstance(exc, RateLimited):
        return "throttled"
    if isinstance(exc, ConnectionFailed):
        text = str(exc).lower()
        return "pushback" if "timeout" in text or "in time" in text else "failed"
    if isinstance(exc, TransientError):
        return "failed"
    if isinstance(exc, AuthError):
        return "auth"
    if isinstance(exc, ApiError):
        return "ok"
    # Our own bug, not SendX's state: it says nothing about SendX.
    return "ok"
