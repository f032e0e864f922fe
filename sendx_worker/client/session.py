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
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from typing import cast

import requests
from requests.adapters import HTTPAdapter

__all__ = ["ThreadSessions", "os_thread_id"]


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
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.pool_size, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session
