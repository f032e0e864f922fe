"""The workers, as they answer Celery's remote control: who is up, what they hold, what they saw.

One ``sendx_health`` broadcast finds the workers and whether SendX rejected their
credentials recently (:mod:`sendx_worker.worker.health`); ``inspect`` then asks
just those workers what they are running, have prefetched and hold for a later
time, and how many tasks they finished (for the rate). Every call waits for the
known workers only, so a sample takes one round trip per question, not a timeout.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from celery import Celery

from ..celery_app import settings_of
from ..cli.check import recent_window_s
from .queues import broker_kind, fail_fast

__all__ = ["REPLY_TIMEOUT_S", "WorkerView", "ask_workers"]

REPLY_TIMEOUT_S = 1.5


@dataclass(frozen=True)
class WorkerView:
    """One worker's answers."""

    name: str
    auth_rejected_at: float | None
    auth_rejections: int
    #: True when SendX rejected the credentials within the window `sendx-worker check` uses.
    auth_rejected_recently: bool
    active: int | None
    reserved: int | None
    scheduled: int | None
    #: sendx tasks finished since the worker started (None: it did not say).
    processed: int | None

    @property
    def holding(self) -> int:
        """Messages this worker holds: running, prefetched, and waiting for their time."""
        return (self.active or 0) + (self.reserved or 0) + (self.scheduled or 0)


def ask_workers(app: Celery, timeout_s: float = REPLY_TIMEOUT_S) -> list[WorkerView]:
    """Every worker that answers within ``timeout_s``, by name."""
    with _control_connection(app) as connection:
        fail_fast(connection)
        return _ask(app, connection, timeout_s)


def _control_connection(app: Celery) -> Any:
    """The connection to ask the workers over.

    On Redis, kombu's own transport: sendx-worker's reliable_redis transport puts a
    message it delivered back on its list unless the QoS recorded it, which a no-ack
    consumer (the reply queue of a broadcast) never does, so the replies came back
    forever and the broadcast never returned.
    """
    if broker_kind(app) == "redis":
        from kombu import Connection

        return Connection(app.conf.broker_url, ssl=app.conf.broker_use_ssl or False)
    return app.connection_for_write()


def _ask(app: Celery, connection: Any, timeout_s: float) -> list[WorkerView]:
    replies = app.control.broadcast("sendx_health", reply=True, timeout=timeout_s, connection=connection) or []
    health: dict[str, Any] = {}
    for reply in replies:
        if isinstance(reply, dict):
            health.update(reply)
    if not health:
        return []
    names = sorted(health)
    inspect = app.control.inspect(destination=names, timeout=timeout_s, limit=len(names), connection=connection)
    active, reserved, scheduled = inspect.active() or {}, inspect.reserved() or {}, inspect.scheduled() or {}
    stats = inspect.stats() or {}
    window = recent_window_s(settings_of(app))
    now = time.time()
    views = []
    for name in names:
        facts = health[name] if isinstance(health[name], Mapping) else {}
        at = facts.get("auth_rejected_at")
        at = float(at) if isinstance(at, int | float) else None
        views.append(
            WorkerView(
                name=name,
                auth_rejected_at=at,
                auth_rejections=int(facts.get("auth_rejections") or 0),
                auth_rejected_recently=at is not None and now - at <= window,
                active=_count(active.get(name)),
                reserved=_count(reserved.get(name)),
                scheduled=_count(scheduled.get(name)),
                processed=_processed(stats.get(name)),
            )
        )
    return views


def _count(tasks: Any) -> int | None:
    return len(tasks) if isinstance(tasks, list) else None


def _processed(stats: Any) -> int | None:
    total = stats.get("total") if isinstance(stats, Mapping) else None
    if not isinstance(total, Mapping):
        return None
    return sum(int(n) for task, n in total.items() if str(task).startswith("sendx.") and isinstance(n, int))
