"""The little HTTP the console needs on top of WSGI: a request, a response, errors as responses.

URLs are built from ``SCRIPT_NAME``, so the console works unchanged when a host app
mounts it at a prefix (``/ops/sendx``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode

__all__ = ["MAX_FORM_BYTES", "HTTPError", "Request", "Response"]

# The largest form the console accepts: a page of selected ids is a few kilobytes.
MAX_FORM_BYTES = 256 * 1024

# Every response carries these. No inline script or style anywhere, so the policy can
# forbid both; 'self' serves the stylesheet and the small select-all script.
SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    # Same-origin requests keep their Referer (the origin check's fallback); nothing leaves.
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)


class HTTPError(Exception):
    """Raised to answer with ``status`` and a short plain-text ``message``."""

    def __init__(self, status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers)


@dataclass
class Request:
    """What the console reads from a WSGI environ."""

    environ: Mapping[str, Any]
    user: str = ""
    _form: dict[str, list[str]] | None = field(default=None, repr=False)

    @property
    def method(self) -> str:
        return str(self.environ.get("REQUEST_METHOD", "GET")).upper()

    @property
    def path(self) -> str:
        return str(self.environ.get("PATH_INFO", "") or "/")

    @property
    def script_name(self) -> str:
        return str(self.environ.get("SCRIPT_NAME", "")).rstrip("/")

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(str(self.environ.get("QUERY_STRING", "")), keep_blank_values=True)

    def header(self, name: str) -> str | None:
        """A request header by its HTTP name (``Sec-Fetch-Site``), or None."""
        key = "HTTP_" + name.upper().replace("-", "_")
        if name.lower() == "content-type":
            key = "CONTENT_TYPE"
        value = self.environ.get(key)
        return None if value is None else str(value)

    @property
    def form(self) -> dict[str, list[str]]:
        """The url-encoded body of a POST (empty otherwise)."""
        if self._form is None:
            self._form = self._read_form()
        return self._form

    def _read_form(self) -> dict[str, list[str]]:
        if self.method != "POST":
            return {}
        content_type = (self.header("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise HTTPError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "forms only (application/x-www-form-urlencoded)")
        try:
            length = int(self.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise HTTPError(HTTPStatus.BAD_REQUEST, "a bad Content-Length") from None
        if length > MAX_FORM_BYTES:
            raise HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "the form is too large")
        body = self.environ["wsgi.input"].read(length) if length > 0 else b""
        return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)

    def arg(self, name: str, default: str = "") -> str:
        """The first value of ``name`` in the form (POST) or the query string (GET)."""
        values = self.values(name)
        return values[0] if values else default

    def values(self, name: str) -> list[str]:
        """Every value of ``name`` in the form (POST) or the query string (GET)."""
        source = self.form if self.method == "POST" else self.query
        return source.get(name, [])

    @property
    def cookies(self) -> dict[str, str]:
        cookie = SimpleCookie()
        try:
            cookie.load(str(self.environ.get("HTTP_COOKIE", "")))
        except CookieError:
            return {}
        return {name: morsel.value for name, morsel in cookie.items()}

    @property
    def scheme(self) -> str:
        return str(self.environ.get("wsgi.url_scheme", "http"))

    @property
    def host(self) -> str:
        """The Host the client asked for (with its port), else the server's name and port."""
        host = self.environ.get("HTTP_HOST")
        if host:
            return str(host).lower()
        name, port = str(self.environ.get("SERVER_NAME", "")), str(self.environ.get("SERVER_PORT", ""))
        default = {"http": "80", "https": "443"}.get(self.scheme)
        return name.lower() if port in ("", default) else f"{name.lower()}:{port}"

    @property
    def origin(self) -> str:
        """This console's own origin, as a browser writes it in ``Origin``."""
        return f"{self.scheme}://{self.host}"

    def url(self, path: str, query: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> str:
        """``path`` under the mount point, with ``query`` (empty values left out)."""
        items = query.items() if isinstance(query, Mapping) else (query or [])
        pairs = [(key, str(value)) for key, value in items if value not in (None, "")]
        suffix = f"?{urlencode(pairs)}" if pairs else ""
        return f"{self.script_name}{path}{suffix}"


@dataclass
class Response:
    """A response: status, headers, body."""

    body: bytes = b""
    status: int = HTTPStatus.OK
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    no_store: bool = True

    @classmethod
    def redirect(cls, location: str) -> Response:
        """303 See Other: after a POST, the browser GETs ``location``."""
        return cls(status=HTTPStatus.SEE_OTHER, content_type="text/plain", headers=[("Location", location)])

    @classmethod
    def text(cls, status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> Response:
        return cls(message.encode() + b"\n", status, "text/plain; charset=utf-8", list(headers))

    def wsgi_headers(self) -> list[tuple[str, str]]:
        headers = [("Content-Type", self.content_type), ("Content-Length", str(len(self.body)))]
        headers += list(SECURITY_HEADERS)
        # Pages show payloads and masked addresses: never kept by a browser or a proxy.
        headers.append(("Cache-Control", "no-store" if self.no_store else "public, max-age=3600"))
        return headers + self.headers

    def status_line(self) -> str:
        return f"{int(self.status)} {HTTPStatus(self.status).phrase}"
