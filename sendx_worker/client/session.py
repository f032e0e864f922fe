"""One ``requests.Session`` per OS thread, with a connection pool sized to the worker.

Why per thread: ``requests.Session`` is not documented as thread-safe (its
cookie jar and adapters are shared mutable state), so each thread of a Celery
``threads`` pool gets its own, created on first use and kept for the life of
the client, so its keep-alive connections are reused (a new connection per
request costs 1.25-1.4x, MEASURED.md).

Why keyed by the *OS* thread rather than ``threading.local``: under gevent's
monkey patching ``threading.local`` becomes greenlet-local, and Celery's gevent
pool runs every task in a fresh greenlet, so a thread-local session would be
created per task and never reused. Keyed by the real thread, the greenlets of
one worker process share one session; they only switch on I/O, so they never
run inside it concurrently.

Why the pool size matters (MEASURED.md, trap 3): a shared session keeps 10
connections per host by default; with 100 greenlets at 50 ms latency that cost
18%, the surplus connections being opened and thrown away. The pool is sized to
the worker concurrency (``pool_maxsize``), and one host needs one pool
(``pool_connections=1``). ``max_retries=0``: the broker does the retrying, with
backoff, and a retried POST must go through the classification in
:mod:`.classify` first.

Why ``trust_env = False``: with it on, ``requests`` re-reads the proxy and CA-bundle
variables and looks up ``~/.netrc`` on every call, 17% of a task's CPU
(docs/BENCHMARKS.md), and a ``~/.netrc`` entry for SendX's host would add an
``Authorization`` header to calls that carry the key in their own header. The
proxies and the CA bundle come from the settings instead, read once
(:mod:`sendx_worker.proxies`), and are set on each session here.

Why :class:`PinnedAdapter`: the client prepares its requests once and hands them to
the session's adapter itself (:mod:`.sendx`), and every call goes to one base URL with
the same proxy and CA bundle. So the adapter looks its urllib3 pool up, and sets the
pool's TLS verification up (requests checks the CA bundle's path on disk for that),
once per pool rather than on every call, and works the request's target out once per
URL. It keeps no cookies: SendX's API does not use them.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import requests
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest, Response
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

__all__ = [
    "PinnedAdapter",
    "ThreadSessions",
    "new_request",
    "os_thread_id",
    "remembered",
    "request_headers",
    "url_with_query",
]

K = TypeVar("K")
V = TypeVar("V")

# URLs worked out and remembered: a few per client, but a v1 track call puts the
# e-mail in the query, so those are forgotten, all at once, past this many.
URLS_KEPT = 256


def remembered(cache: dict[K, V], key: K, make: Callable[[], V]) -> V:
    """``cache[key]``, made by ``make()`` the first time; the cache is emptied when it holds :data:`URLS_KEPT`."""
    found = cache.get(key)
    if found is None:
        found = make()
        if len(cache) >= URLS_KEPT:
            cache.clear()
        cache[key] = found
    return found


class PinnedAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that sets up each urllib3 pool once and remembers it, and keeps no cookies."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pools: dict[tuple[Any, ...], Any] = {}
        self._targets: dict[tuple[Any, ...], str] = {}

    def get_connection_with_tls_context(
        self,
        request: PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: Any = None,
    ) -> Any:
        """The pool for the request's URL (its query aside) and these settings, set up on first use."""
        key = (str(request.url).partition("?")[0], verify, cert, _proxies_key(proxies))
        pool = self._pools.get(key)
        # A pool the manager closed (evicted, or the adapter closed) has no connections queue.
        if pool is None or pool.pool is None:
            pool = super().get_connection_with_tls_context(request, verify, proxies=dict(proxies or {}), cert=cert)
            super().cert_verify(pool, str(request.url), verify, cert)  # type: ignore[no-untyped-call]
            self._pools[key] = pool
        return pool

    def cert_verify(self, conn: Any, url: str, verify: bool | str | None, cert: Any) -> None:
        """Done once per pool, when :meth:`get_connection_with_tls_context` sets it up."""

    def request_url(self, request: PreparedRequest, proxies: Mapping[str, str] | None) -> str:
        """The request target (the path, or the whole URL through an HTTP proxy), worked out once per URL."""
        key = (request.url, _proxies_key(proxies))
        return remembered(
            self._targets, key, lambda: super(PinnedAdapter, self).request_url(request, dict(proxies or {}))
        )

    def build_response(self, req: PreparedRequest, resp: Any) -> Response:
        """requests' response, without reading cookies out of it."""
        response = Response()
        response.status_code = resp.status
        response.headers = CaseInsensitiveDict(resp.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = str(req.url)
        response.request = req
        response.connection = self
        return response

    def close(self) -> None:
        """Close the pools; the next call sets up new ones."""
        self._pools.clear()
        super().close()


def request_headers(url: str, headers: Mapping[str, str]) -> CaseInsensitiveDict[str]:
    """The headers one of our sessions sends with ``headers`` to ``url``: requests' defaults merged in, once."""
    with requests.Session() as session:
        session.trust_env = False
        prepared = session.prepare_request(requests.Request("POST", url, headers=dict(headers), data=b"-"))
    return prepared.headers


def url_with_query(url: str, params: Mapping[str, str]) -> str:
    """``url`` with ``params`` as its query string, encoded as requests encodes it."""
    prepared = PreparedRequest()
    prepared.prepare_url(url, dict(params))
    return str(prepared.url)


def new_request(method: str, url: str, headers: CaseInsensitiveDict[str], body: bytes) -> PreparedRequest:
    """A request ready for :meth:`ThreadSessions.send`, from headers made by :func:`request_headers`."""
    request = PreparedRequest()
    request.method = method
    request.url = url
    request.headers = headers.copy()
    request.headers["Content-Length"] = str(len(body))
    request.body = body
    return request


def _proxies_key(proxies: Mapping[str, str] | None) -> tuple[tuple[str, str], ...] | None:
    return tuple(proxies.items()) if proxies else None


def os_thread_id() -> int:
    """The id of the running OS thread, even when gevent has patched ``threading``."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        original = cast(Callable[[], int], monkey.get_original("_thread", "get_ident"))
        return original()
    return threading.get_ident()


class ThreadSessions:
    """Lazily created ``requests.Session`` objects, one per OS thread.

    ``proxies`` maps a scheme to its proxy URL (``{"https": "http://proxy:3128"}``);
    ``verify`` is True (the certifi bundle) or the path of a CA bundle.
    """

    def __init__(self, *, pool_size: int, proxies: Mapping[str, str] | None = None, verify: bool | str = True) -> None:
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, not {pool_size}")
        self.pool_size = pool_size
        self._proxies = dict(proxies or {})
        self._verify = verify
        self._sessions: dict[int, requests.Session] = {}
        self._lock = threading.Lock()

    def get(self) -> requests.Session:
        """The calling thread's session, created on first use."""
        key = os_thread_id()
        session = self._sessions.get(key)
        if session is None:
            with self._lock:
                session = self._sessions.get(key)
                if session is None:
                    session = self._new_session()
                    self._sessions[key] = session
        return session

    def send(self, request: PreparedRequest, *, timeout: Any) -> requests.Response:
        """Send ``request`` with the calling thread's session's adapter; the body is read before returning.

        What ``Session.request`` would do for our calls, without redoing on every call
        what is the same every time: the request is prepared by the caller once
        (:func:`request_headers`, :func:`url_with_query`), and the session's proxies and CA
        bundle are passed as they are (``trust_env`` is off, so there is nothing to merge).
        Redirects are not followed, cookies not kept; errors are requests' own.
        """
        session = self.get()
        adapter = session.get_adapter(str(request.url))
        verify = True if session.verify is None else session.verify
        response = adapter.send(request, timeout=timeout, verify=verify, proxies=session.proxies)
        _ = response.content  # read now: the connection goes back to the pool
        return response

    def close(self) -> None:
        """Close every session; a later :meth:`get` starts a fresh one."""
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            session.close()

    def __len__(self) -> int:
        return len(self._sessions)

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        session.proxies = dict(self._proxies)
        session.verify = self._verify
        adapter = PinnedAdapter(pool_connections=1, pool_maxsize=self.pool_size, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session
