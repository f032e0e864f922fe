"""One pooled session per OS thread (greenlets of one thread share it)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest
from requests.adapters import HTTPAdapter

from sendx_worker.client.session import ThreadSessions


def test_a_thread_gets_the_same_session_every_time() -> None:
    sessions = ThreadSessions(pool_size=4)
    assert sessions.get() is sessions.get()
    assert len(sessions) == 1


def test_concurrent_threads_each_get_their_own_session() -> None:
    sessions = ThreadSessions(pool_size=4)
    barrier = threading.Barrier(4, timeout=10)
    seen: list[int] = []

    def work() -> None:
        seen.append(id(sessions.get()))
        barrier.wait()  # all four alive at once, so no thread id is reused

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(set(seen)) == 4
    assert len(sessions) == 4


@pytest.mark.parametrize("scheme", ["https://", "http://"])
def test_the_adapter_pools_as_many_connections_as_the_worker_runs_and_never_retries(scheme: str) -> None:
    session = ThreadSessions(pool_size=32).get()
    adapter = session.get_adapter(scheme + "api.sendx.io/")
    assert isinstance(adapter, HTTPAdapter)
    assert adapter._pool_maxsize == 32  # type: ignore[attr-defined]
    assert adapter._pool_connections == 1  # type: ignore[attr-defined]
    assert adapter.max_retries.total == 0


def test_close_closes_the_sessions_and_the_next_get_starts_a_fresh_one() -> None:
    sessions = ThreadSessions(pool_size=2)
    first = sessions.get()
    sessions.close()
    assert len(sessions) == 0
    assert sessions.get() is not first


def test_a_pool_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="pool_size"):
        ThreadSessions(pool_size=0)


GEVENT_SCRIPT = textwrap.dedent(
    """
    from gevent import monkey
    monkey.patch_all()
    import threading
    import gevent
    from sendx_worker.client.session import ThreadSessions

    sessions = ThreadSessions(pool_size=100)
    local = threading.local()

    def task():
        local.marker = object()  # greenlet-local under gevent: a fresh one per greenlet
        return id(sessions.get()), id(local.marker)

    results = [g.get() for g in [gevent.spawn(task) for _ in range(20)]]
    print(len({s for s, _ in results}), len({m for _, m in results}))
    """
)


def test_under_gevent_the_greenlets_of_one_thread_share_one_session() -> None:
    pytest.importorskip("gevent")
    done = subprocess.run(
        [sys.executable, "-c", GEVENT_SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    sessions, locals_ = done.stdout.split()
    assert sessions == "1", "greenlets must share the thread's session, so its pool is used"
    assert locals_ == "20", "threading.local would have given each greenlet its own"
