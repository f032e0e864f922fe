"""Which proxy a call to SendX goes through, decided once instead of on every call.

``requests`` looks up ``HTTPS_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE`` and ``~/.netrc``
on every request while a session trusts the environment: 17% of a task's CPU
(docs/BENCHMARKS.md, "Where the time goes"). The client's sessions therefore do not
(``trust_env = False``); :mod:`sendx_worker.settings` reads the standard variables once
into :class:`Proxies`, and :meth:`Proxies.for_url` gives, for a base URL, the answer
``requests`` would have given: the proxy for the URL's scheme (else ``ALL_PROXY``),
unless ``NO_PROXY`` covers the host. Pure functions, no environment access here.

Proxy URLs may carry credentials (``http://user:password@proxy:3128``):
:func:`redact_url` hides them, and ``repr(Proxies(...))`` uses it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["PROXY_SCHEMES", "Proxies", "bypasses_proxy", "proxy_url_problem", "redact_url"]

#: Proxy schemes ``requests`` speaks (the socks ones need ``requests[socks]``).
PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")


@dataclass(frozen=True)
class Proxies:
    """The proxy variables as read once; credentials in them never show in ``repr``."""

    http: str | None = None
    https: str | None = None
    all: str | None = None
    no_proxy: str | None = None

    def for_url(self, url: str) -> str | None:
        """The proxy for ``url``: its scheme's, else ``all``; None when there is none or ``no_proxy`` covers it."""
        scheme = urlsplit(url).scheme
        proxy = {"http": self.http, "https": self.https}.get(scheme) or self.all
        if proxy is None or bypasses_proxy(url, self.no_proxy):
            return None
        return proxy

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={redact_url(value)!r}"
            for name, value in (("http", self.http), ("https", self.https), ("all", self.all))
            if value is not None
        )
        no_proxy = f"no_proxy={self.no_proxy!r}" if self.no_proxy is not None else ""
        return f"Proxies({', '.join(part for part in (shown, no_proxy) if part)})"


def bypasses_proxy(url: str, no_proxy: str | None) -> bool:
    """True when ``no_proxy`` (``NO_PROXY``'s comma-separated hosts and domains, or ``*``) covers ``url``'s host.

    The matching is urllib's (and so ``requests``' for host names): an entry matches the
    host itself and its subdomains (``example.com`` and ``.example.com`` both cover
    ``api.example.com``), optionally with the port (``127.0.0.1:8025``).
    """
    if not no_proxy:
        return False
    # Imported here: urllib.request brings ssl and http.client, 6 MB that `import sendx_worker`
    # and the CLI's supervising parent do without. The function is public in urllib.request
    # (and pure when given ``proxies``), but missing from typeshed's stubs.
    from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]

    parts = urlsplit(url)
    host = parts.hostname or ""
    with_port = f"{host}:{parts.port}" if parts.port is not None else host
    return bool(proxy_bypass_environment(with_port, proxies={"no": no_proxy}))


def proxy_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as a proxy URL, or None when it is usable."""
    parts = urlsplit(url)
    if parts.scheme not in PROXY_SCHEMES or not parts.hostname:
        return "must be a proxy URL with a scheme and a host, such as http://proxy.example.com:3128"
    try:
        _ = parts.port
    except ValueError:
        return "has an invalid port"
    if parts.scheme.startswith("socks") and importlib.util.find_spec("socks") is None:
        return "is a SOCKS proxy, which needs PySocks (pip install 'requests[socks]')"
    return None


def redact_url(url: str) -> str:
    """``url`` with everything between the scheme and the last ``@`` (user name, password) replaced by ``***``.

    Deliberately blunt, so that a malformed URL (no scheme, an unescaped ``/`` in the
    password) cannot slip its credentials through: a proxy URL has no use for an ``@``
    anywhere else.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    at = rest.rfind("@")
    if at < 0:
        return url
    return f"{scheme}{sep}***{rest[at:]}"
