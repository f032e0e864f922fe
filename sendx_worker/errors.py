"""Every error sendx-worker raises, in one tree.

::

    SendxError
     ├── ConfigurationError          a setting is missing or invalid (names the variable)
     ├── PublishError                the broker could not take a message (names the broker)
 ├── StoreUnavailable            the state store (ordering, breaker) cannot be reached
     └── ApiError                    a SendX call failed; carries the evidence
          ├── TransientError         retry later: the same request may succeed
          │    ├── ConnectionFailed  no response: refused, reset, DNS, TLS, timeout
          │    ├── RateLimited       429
          │    └── ServerError       408, 5xx, and answers we cannot act on (1xx, 3xx)
          ├── AuthError              401/403: our credentials are wrong, not the message
          └── PermanentError         dead-letter: the same request will fail again
               ├── InvalidPayload    the message itself is malformed (never sent)
               └── Rejected          SendX refused the request (4xx, or a 2xx whose body says error)
                    └── ContactNotFound  404 on track: the contact does not exist (yet)

``AuthError`` is deliberately neither transient nor permanent: the worker keeps
retrying it without a deadline, because fixing the key must let the whole backlog
through, and dead-lettering it would punish every message for one setting.

No error message or attribute ever holds the API key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ApiError",
    "AuthError",
    "ConfigurationError",
    "ConnectionFailed",
    "ContactNotFound",
    "InvalidPayload",
    "PermanentError",
    "PublishError",
    "RateLimited",
    "Rejected",
    "SendxError",
    "ServerError",
    "StoreUnavailable",
    "TransientError",
]


class SendxError(Exception):
    """Raised for anything that goes wrong in sendx-worker; the root of the tree."""


class ConfigurationError(SendxError, ValueError):
    """Raised when a setting is missing or invalid; the message names the variable."""

    def __init__(self, variable: str, reason: str) -> None:
        self.variable = variable
        self.reason = reason
        super().__init__(f"{variable}: {reason}")


class PublishError(SendxError):
    """Raised when the broker stays unreachable while a producer publishes a task."""


class StoreUnavailable(SendxError):
    """Raised when the state store cannot be reached; the message names the store (password masked)."""


class ApiError(SendxError):
    """Raised when a call to SendX fails; holds the evidence of what happened.

    ``may_have_reached_sendx`` is False only when we know SendX never saw the
    request (connection refused, 429, 503): it decides whether a non-idempotent
    ``++``/``--`` increment may be sent again.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status: int | None = None,
        sendx_message: str | None = None,
        body: Any = None,
        retry_after_s: float | None = None,
        may_have_reached_sendx: bool = False,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.status = status
        self.sendx_message = sendx_message
        self.body = body
        self.retry_after_s = retry_after_s
        self.may_have_reached_sendx = may_have_reached_sendx

    def __str__(self) -> str:
        where = f"{self.method} {self.path}"
        status = f" -> {self.status}" if self.status is not None else ""
        return f"{self.args[0]} ({where}{status})"

    def evidence(self) -> dict[str, Any]:
        """The facts of the failure as plain JSON-safe data, for logs and dead letters."""
        return {
            "error": self.__class__.__name__,
            "message": str(self),
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "sendx_message": self.sendx_message,
            "body": self.body if _is_json_safe(self.body) else repr(self.body),
            "retry_after_s": self.retry_after_s,
            "may_have_reached_sendx": self.may_have_reached_sendx,
        }


class TransientError(ApiError):
    """Raised when a SendX call failed in a way that a later retry may fix."""


class ConnectionFailed(TransientError):
    """Raised when no HTTP response arrived: refused, reset, DNS, TLS or timeout."""


class RateLimited(TransientError):
    """Raised when SendX answered 429 Too Many Requests."""


class ServerError(TransientError):
    """Raised when SendX answered 408, a 5xx, or a 1xx/3xx we cannot act on."""


class AuthError(ApiError):
    """Raised when SendX rejected our credentials (401/403)."""


class PermanentError(ApiError):
    """Raised when a request can never succeed as it is; it is dead-lettered."""


class InvalidPayload(PermanentError):
    """Raised when a message fails validation on the worker; it is never sent to SendX."""

    def __init__(self, message: str, *, messages: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, method="-", path="-")
        self.messages: dict[str, Any] = dict(messages or {})

    def __str__(self) -> str:
        return str(self.args[0])

    def evidence(self) -> dict[str, Any]:
        """The validation messages, keyed by field."""
        return {"error": self.__class__.__name__, "message": str(self), "fields": self.messages}


class Rejected(PermanentError):
    """Raised when SendX refused the request: a 4xx, or a 2xx whose body reports an error."""


class ContactNotFound(Rejected):
    """Raised when a track names a contact SendX does not know (404)."""


def _is_json_safe(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, dict))
