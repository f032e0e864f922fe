"""Who may look, and which requests may change anything.

- **Authentication.** With ``SENDX_CONSOLE_TOKEN`` or ``SENDX_CONSOLE_USERS`` set, every
  request needs HTTP Basic credentials (a user and their password, or any name and
  the token as the password) or ``Authorization: Bearer <token>``, compared in
  constant time. A host app that mounts the console passes ``authorize(environ)``
  instead, which returns who is asking or None. With neither, only loopback clients
  asking for a loopback Host are served: a page on another site that rebinds its DNS
  name to 127.0.0.1 is refused by its Host.
- **State changes** are POST only, must come from the console's own pages
  (``Sec-Fetch-Site: same-origin``; else ``Origin``, else ``Referer``, naming this
  host) and carry the form token that matches the console's ``SameSite=Strict``
  cookie. Read-only mode refuses them all.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import secrets
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from ..settings import ConsoleSettings
from .http import HTTPError, Request

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "Authorize",
    "Guard",
    "cross_origin_problem",
    "is_loopback",
    "new_csrf_token",
    "remote_user",
]

Authorize = Callable[[Mapping[str, Any]], "str | None"]

CSRF_COOKIE = "sendx_console_csrf"
CSRF_FIELD = "csrf"
REALM = 'Basic realm="sendx-worker console", charset="UTF-8"'


def remote_user(environ: Mapping[str, Any]) -> str | None:
    """An ``authorize`` for hosts that authenticate first and set ``REMOTE_USER`` (Django, a proxy)."""
    user = environ.get("REMOTE_USER")
    return str(user) if user else None


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (with or without brackets)."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_name(host: str) -> str:
    """``[::1]:8026`` -> ``::1``; ``127.0.0.1:8026`` -> ``127.0.0.1``."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


class Guard:
    """Authentication and the checks on state-changing requests, for one console."""

    def __init__(self, settings: ConsoleSettings, *, authorize: Authorize | None, read_only: bool) -> None:
        self._settings = settings
        self._authorize = authorize
        self.read_only = read_only

    @property
    def open_to_loopback_only(self) -> bool:
        """True when nothing authenticates: the console serves loopback clients only."""
        return self._authorize is None and not self._settings.has_auth

    def identify(self, request: Request) -> str:
        """Who is asking (for the action log); HTTPError when they may not."""
        if self._authorize is not None:
            who = self._authorize(request.environ)
            if not who:
                raise HTTPError(HTTPStatus.FORBIDDEN, "not allowed: the host application did not authorize you")
            return str(who)
        if self._settings.has_auth:
            return self._credentials(request)
        remote = str(request.environ.get("REMOTE_ADDR", ""))
        if not (is_loopback(remote) and is_loopback(_host_name(request.host))):
            raise HTTPError(
                HTTPStatus.FORBIDDEN,
                "the console serves only loopback clients at a loopback address unless authentication is "
                "configured (SENDX_CONSOLE_TOKEN or SENDX_CONSOLE_USERS)",
            )
        return f"local ({remote})"

    def _credentials(self, request: Request) -> str:
        scheme, _, value = (request.header("Authorization") or "").partition(" ")
        token = self._settings.token
        if scheme.lower() == "bearer" and token is not None and _same(value.strip(), token):
            return "token"
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            user, colon, password = decoded.partition(":")
            if colon and user:
                expected = self._settings.users.get(user)
                # Compared even for an unknown user, so that timing does not tell which users exist.
                if _same(password, expected if expected is not None else secrets.token_hex(16)) and expected:
                    return user
                if token is not None and _same(password, token):
                    return f"{user} (token)"
        raise HTTPError(HTTPStatus.UNAUTHORIZED, "authentication required", [("WWW-Authenticate", REALM)])

    def check_change(self, request: Request, csrf_cookie: str | None) -> None:
        """Refuse (HTTPError) a state-changing request that is not a same-origin POST with the form token."""
        if self.read_only:
            raise HTTPError(HTTPStatus.FORBIDDEN, "the console is read-only")
        if request.method != "POST":
            raise HTTPError(HTTPStatus.METHOD_NOT_ALLOWED, "changes are POST only", [("Allow", "POST")])
        problem = cross_origin_problem(request)
        if problem is not None:
            raise HTTPError(HTTPStatus.FORBIDDEN, f"refused: {problem}")
        sent = request.arg(CSRF_FIELD)
        if not csrf_cookie or not sent or not _same(sent, csrf_cookie):
            raise HTTPError(HTTPStatus.FORBIDDEN, "refused: the form token is missing or stale; reload the page")


def cross_origin_problem(request: Request) -> str | None:
    """Why ``request`` is not from this console's own pages, or None when it is (or cannot tell)."""
    fetch_site = request.header("Sec-Fetch-Site")
    if fetch_site is not None:
        return None if fetch_site == "same-origin" else f"a {fetch_site} request (Sec-Fetch-Site)"
    # Host and port, not the scheme: behind a TLS-terminating proxy the console sees http
    # while the browser says https, and one host:port does not serve both.
    origin = request.header("Origin")
    if origin is not None:
        return None if urlsplit(origin).netloc.lower() == request.host else f"Origin {origin!r} is not this console"
    referer = request.header("Referer")
    if referer is not None:
        return None if urlsplit(referer).netloc.lower() == request.host else "the Referer is not this console"
    return None  # neither header: the form token decides


def new_csrf_token() -> str:
    """A fresh value for the console's form-token cookie."""
    return secrets.token_urlsafe(32)
