"""The one place that decides what a failed SendX call means.

:func:`classify` takes what an attempt produced (an HTTP status, or the
``requests`` exception raised instead of a response) and returns a
:class:`Verdict`: which :mod:`sendx_worker.errors` class to raise and whether
SendX may have applied the request. Everything else (the client, the
:func:`is_transient` predicate, the table tests) goes through it.

Statuses, in short:

* 2xx: success (``None``), unless the body says failure: then ``Rejected``.
* 408, 429, 5xx: transient. 401, 403: ``AuthError``. 404 on track:
  ``ContactNotFound``. Other 4xx: ``Rejected``.
* 1xx and 3xx: ``ServerError`` (transient). Neither is an answer we can act on:
  a 1xx as the final response is a protocol glitch, and we never follow a
  redirect for a POST. Neither says anything is wrong with the message, so it is
  retried (and dead-lettered as ``retries_exhausted`` if it never clears), which
  survives a maintenance redirect and gives an operator time to fix a base URL.

``may_have_reached_sendx`` is False only when SendX, by the rules of HTTP or of
TCP, cannot have applied the request: it refused it (4xx, 503, 301/307/308) or
never got it (connect errors). 302 and 303 are what a web app answers *after*
processing a POST, so they count as "may have reached", like 500, 502 and 504.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import requests
import urllib3.exceptions

from ..errors import (
    ApiError,
    AuthError,
    ConnectionFailed,
    ContactNotFound,
    InvalidPayload,
    RateLimited,
    Rejected,
    ServerError,
    TransientError,
)

__all__ = ["Operation", "Verdict", "body_reports_failure", "classify", "is_transient"]

Operation = Literal["identify", "track"]

# Body ``status`` words that mean failure; SendX documents "error".
_FAILURE_WORDS = frozenset({"error", "fail", "failed", "failure"})
# Redirects that say "repeat this request elsewhere": nothing was done here.
_UNAPPLIED_REDIRECTS = frozenset({301, 307, 308})


@dataclass(frozen=True)
class Verdict:
    """What a failed attempt means: the error class, and whether SendX may have applied it."""

    error: type[ApiError]
    may_have_reached_sendx: bool
    # For exceptions: a short human phrase ("connection refused"); empty for statuses.
    what: str = ""


def classify(outcome: int | BaseException, *, operation: Operation, body_failed: bool = False) -> Verdict | None:
    """Decide what an attempt's outcome means; None means success.

    ``outcome`` is the HTTP status, or the exception raised instead of a
    response. ``body_failed`` says a 2xx body reported an error.
    """
    if isinstance(outcome, BaseException):
        return _exception_verdict(outcome, operation)
    return _status_verdict(outcome, operation, body_failed)


def is_transient(status: int) -> bool:
    """Is a call that got ``status`` worth retrying as it is (408, 429, 5xx, stray 1xx/3xx)?"""
    verdict = classify(status, operation="identify")
    return verdict is not None and issubclass(verdict.error, TransientError)


def body_reports_failure(body: Any) -> bool:
    """Does a (2xx) response body say the call failed: ``status`` "error" or a 4xx/5xx code?"""
    if not isinstance(body, Mapping):
        return False
    status = body.get("status")
    if isinstance(status, bool):
        return False
    if isinstance(status, int | float):
        return 400 <= status < 600
    if isinstance(status, str):
        text = status.strip().lower()
        if text in _FAILURE_WORDS:
            return True
        return text.isdigit() and 400 <= int(text) < 600
    return False


def _status_verdict(status: int, operation: Operation, body_failed: bool) -> Verdict | None:
    if 200 <= status < 300:
        # HTTP said success: whatever the body says, SendX may have applied it.
        return Verdict(Rejected, True) if body_failed else None
    if status in (401, 403):
        return Verdict(AuthError, False)
    if status == 429:
        return Verdict(RateLimited, False)
    if status == 408:
        return Verdict(ServerError, False)
    if status == 404 and operation == "track":
        return Verdict(ContactNotFound, False)
    if 400 <= status < 500:
        return Verdict(Rejected, False)
    if status == 503:
        return Verdict(ServerError, False)
    if status in _UNAPPLIED_REDIRECTS:
        return Verdict(ServerError, False)
    # Other 5xx, 302/303 and the other 3xx, stray 1xx, anything out of range.
    return Verdict(ServerError, True)


def _exception_verdict(exc: BaseException, operation: Operation) -> Verdict:
    # Order matters: the most specific classes first (ConnectTimeout is both a
    # ConnectionError and a Timeout; ContentDecodingError is a urllib3 HTTPError).
    if isinstance(exc, requests.ConnectTimeout):
        return Verdict(ConnectionFailed, False, "connect timeout")
    if isinstance(exc, requests.Timeout):
        return Verdict(ConnectionFailed, True, "no answer in time (read timeout)")
    if isinstance(exc, requests.exceptions.SSLError):
        # urllib3 raises it almost always during the handshake (a certificate).
        return Verdict(ConnectionFailed, False, "TLS handshake failed")
    if isinstance(exc, requests.exceptions.ProxyError):
        return Verdict(ConnectionFailed, False, "the proxy could not connect")
    if isinstance(exc, requests.ConnectionError):
        return _connection_error_verdict(exc)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return Verdict(ConnectionFailed, True, "the response broke off")
    if isinstance(exc, requests.exceptions.JSONDecodeError):
        return Verdict(ConnectionFailed, True, "the response was unreadable")
    if isinstance(exc, requests.exceptions.InvalidJSONError):
        return Verdict(InvalidPayload, False, "the payload is not JSON-serializable")
    if isinstance(exc, requests.exceptions.InvalidHeader):
        # The only variable header we send is the API key.
        return Verdict(AuthError, False, "the API key is not a valid header value")
    if isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.InvalidSchema
        | requests.exceptions.MissingSchema
        | requests.exceptions.URLRequired,
    ):
        return Verdict(ConnectionFailed, False, "the URL is invalid")
    if isinstance(exc, requests.TooManyRedirects | requests.exceptions.RetryError):
        return Verdict(ServerError, True, "unexpected redirect or retry")
    if isinstance(exc, requests.HTTPError):
        response = exc.response
        if response is not None:
            verdict = _status_verdict(response.status_code, operation, body_failed=False)
            if verdict is not None:
                return verdict
        return Verdict(ServerError, True, "HTTP error")
    # StreamConsumedError, UnrewindableBodyError, RequestException itself, and
    # anything else: we cannot tell whether the request left, so assume it did.
    return Verdict(ConnectionFailed, True, "the request failed")


def _connection_error_verdict(exc: BaseException) -> Verdict:
    chain = list(_causes(exc))
    if any(isinstance(e, urllib3.exceptions.NameResolutionError | socket.gaierror) for e in chain):
        return Verdict(ConnectionFailed, False, "DNS lookup failed")
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return Verdict(ConnectionFailed, False, "connection refused")
    if any(
        isinstance(e, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError) for e in chain
    ):
        return Verdict(ConnectionFailed, False, "could not connect")
    if any(isinstance(e, urllib3.exceptions.ClosedPoolError) for e in chain):
        return Verdict(ConnectionFailed, False, "the client was closed")
    # Connection aborted, RemoteDisconnected, reset, broken pipe, or unknown:
    # the request may have been sent and applied before the connection died.
    dropped = (urllib3.exceptions.ProtocolError, http.client.HTTPException, ConnectionError)
    if any(isinstance(e, dropped) for e in chain):
        return Verdict(ConnectionFailed, True, "the connection dropped after the request was sent")
    return Verdict(ConnectionFailed, True, "the connection failed")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: args, urllib3's ``reason``, ``__cause__``/``__context__``."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
