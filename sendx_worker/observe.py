"""The seam between delivery and whatever watches it (Prometheus, tests).

Delivery reports what happens to an :class:`Observer` attached to the Celery app
(``app.sendx_observer``); the default one does nothing, so metrics cost nothing
unless they are switched on.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["NULL_OBSERVER", "NullObserver", "Observer", "observer_of"]


class Observer(Protocol):
    """Receives delivery events; implementations must be thread-safe and never raise."""

    def task_started(self, operation: str) -> None:
        """A delivery attempt of ``operation`` ("identify"/"track") began."""

    def task_finished(self, operation: str, outcome: str) -> None:
        """An attempt ended: delivered, retried, dead_lettered, requeued, superseded, duplicate, deferred."""

    def dead_lettered(self, operation: str, reason: str) -> None:
        """A dead letter was published for ``operation`` with ``reason``."""

    def sendx_call(self, operation: str, status: int | None, seconds: float) -> None:
        """One HTTP call to SendX returned ``status`` (None: no response) after ``seconds``."""

    def lease_waited(self, seconds: float) -> None:
        """A delivery waited ``seconds`` for its contact's lease (another delivery held it)."""

    def circuit_changed(self, team: str, state: str, since: float) -> None:
        """This process saw ``team``'s circuit become ``state`` ("open"/"closed"), open since ``since``."""

    def probe_finished(self, team: str, outcome: str) -> None:
        """A probe of ``team``'s open circuit ended: "succeeded" or "failed"."""

    def concurrency_limit(self, team: str, limit: float) -> None:
        """This process's limit of calls in flight to ``team`` moved to ``limit``."""


class NullObserver:
    """Watches nothing."""

    def task_started(self, operation: str) -> None:
        return None

    def task_finished(self, operation: str, outcome: str) -> None:
        return None

    def dead_lettered(self, operation: str, reason: str) -> None:
        return None

    def sendx_call(self, operation: str, status: int | None, seconds: float) -> None:
        return None

    def lease_waited(self, seconds: float) -> None:
        return None

    def circuit_changed(self, team: str, state: str, since: float) -> None:
        return None

    def probe_finished(self, team: str, outcome: str) -> None:
        return None

    def concurrency_limit(self, team: str, limit: float) -> None:
        return None


NULL_OBSERVER = NullObserver()


def observer_of(app: Any) -> Observer:
    """The observer attached to ``app`` (:data:`NULL_OBSERVER` if none)."""
    found: Observer = getattr(app, "sendx_observer", None) or NULL_OBSERVER
    return found
