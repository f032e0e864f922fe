"""What a running worker knows about SendX, for ``sendx-worker check``.

A worker that sees SendX reject the credentials keeps its messages and retries
them (fixing the key must let the backlog through), so nothing is dead-lettered
and nothing else would tell the operator. This records the last rejection, and
the remote-control command ``sendx_health`` reports it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from celery.worker.control import inspect_command

__all__ = ["WorkerHealth", "health"]


class WorkerHealth:
    """Thread-safe facts about this worker process's recent calls to SendX."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.auth_rejected_at: float | None = None
        self.auth_rejections = 0

    def auth_rejected(self) -> None:
        with self._lock:
            self.auth_rejected_at = time.time()
            self.auth_rejections += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"auth_rejected_at": self.auth_rejected_at, "auth_rejections": self.auth_rejections}


health = WorkerHealth()


@inspect_command()
def sendx_health(state: Any) -> dict[str, Any]:
    """Remote control: this worker's view of SendX (``celery inspect sendx_health``)."""
    return health.snapshot()
