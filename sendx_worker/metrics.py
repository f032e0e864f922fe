"""Prometheus metrics for the worker: an :class:`~sendx_worker.observe.Observer` that counts.

Off by default; ``SENDX_METRICS_PORT`` switches them on (see
:mod:`sendx_worker.worker.metrics_hook`). ``prometheus-client`` is the optional
extra ``metrics`` and is imported only when metrics are switched on.

==============================  ======================  =============================================
metric                          labels                  meaning
==============================  ======================  =============================================
``sendx_tasks_total``           operation, outcome      attempts ended: delivered, retried,
                                                        dead_lettered, requeued, superseded (a newer
                                                        event replaced every part: nothing sent),
                                                        duplicate (already applied: nothing sent),
                                                        deferred (waited: contact busy, store down)
``sendx_dead_letters_total``    operation, reason       dead letters published, by reason
``sendx_request_seconds``       operation, status       SendX HTTP latency (histogram); status is
                                                        the HTTP code, or "none" without a response
``sendx_tasks_in_flight``       operation               attempts running now (gauge)
``sendx_lease_wait_seconds``    (none)                  time deliveries waited for a contact's lease
                                                        held by another delivery (histogram)
``sendx_circuit_open``          team                    1 while the team's circuit breaker is open
                                                        (as this process last read it), else 0
``sendx_circuit_opened_at``     team                    when it last opened (Unix time; 0: never)
``sendx_circuit_probes_total``  team, outcome           probes this process made: succeeded, failed
``sendx_concurrency_limit``     team                    this process's adaptive limit of calls in
                                                        flight to the team (AIMD)
==============================  ======================  =============================================
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .errors import ConfigurationError

__all__ = [
    "DEAD_LETTER_REASONS",
    "INSTALL_HINT",
    "METRICS_ADDR",
    "METRICS_PORT_SPAN",
    "OPERATIONS",
    "OUTCOMES",
    "MetricsServer",
    "PrometheusObserver",
    "require_prometheus_client",
    "serve_metrics",
]

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'sendx-worker[metrics]'"
OPERATIONS = ("identify", "track")
OUTCOMES = ("delivered", "retried", "dead_lettered", "requeued", "superseded", "duplicate", "deferred")
DEAD_LETTER_REASONS = ("invalid_payload", "rejected", "retries_exhausted", "ambiguous_increment", "poison")
# Several worker processes on one machine share SENDX_METRICS_PORT: each takes the
# first free port from it upwards, so `--processes N` serves on PORT .. PORT+N-1.
METRICS_PORT_SPAN = 32
# Prometheus scrapes from another host; the metrics carry no personal data.
METRICS_ADDR = "0.0.0.0"  # noqa: S104
# SendX answers in tens of milliseconds; the tail up to SENDX_TIMEOUT (10 s by default) matters.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A lease wait is at most ordering.LEASE_WAIT_S (1 s) before the message is deferred.
LEASE_WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def require_prometheus_client() -> ModuleType:
    """The ``prometheus_client`` module; ConfigurationError naming the extra when it is missing."""
    try:
        return importlib.import_module("prometheus_client")
    except ImportError:
        raise ConfigurationError(
            "SENDX_METRICS_PORT", f"metrics need the prometheus-client package: {INSTALL_HINT}"
        ) from None


class PrometheusObserver:
    """Counts deliveries into Prometheus metrics; thread-safe, never raises."""

    def __init__(self, registry: Any = None) -> None:
        prometheus = require_prometheus_client()
        where = {"registry": registry} if registry is not None else {}
        self.tasks = prometheus.Counter(
            "sendx_tasks", "Delivery attempts ended, by outcome.", ["operation", "outcome"], **where
        )
        self.dead_letters = prometheus.Counter(
            "sendx_dead_letters", "Dead letters published, by reason.", ["operation", "reason"], **where
        )
        self.request_seconds = prometheus.Histogram(
            "sendx_request_seconds",
            "Latency of HTTP calls to SendX; status 'none' when no response came.",
            ["operation", "status"],
            buckets=LATENCY_BUCKETS,
            **where,
        )
        self.in_flight = prometheus.Gauge(
            "sendx_tasks_in_flight", "Delivery attempts running now.", ["operation"], **where
        )
        self.lease_wait_seconds = prometheus.Histogram(
            "sendx_lease_wait_seconds",
            "Time deliveries waited for a contact's lease held by another delivery.",
            buckets=LEASE_WAIT_BUCKETS,
            **where,
        )
        self.circuit_open = prometheus.Gauge(
            "sendx_circuit_open", "1 while the team's circuit breaker is open, else 0.", ["team"], **where
        )
        self.circuit_opened_at = prometheus.Gauge(
            "sendx_circuit_opened_at", "When the team's circuit last opened (Unix time).", ["team"], **where
        )
        self.probes = prometheus.Counter(
            "sendx_circuit_probes", "Probes of an open circuit, by outcome.", ["team", "outcome"], **where
        )
        self.concurrency = prometheus.Gauge(
            "sendx_concurrency_limit", "This process's adaptive limit of calls in flight, per team.", ["team"], **where
        )
        # Series that exist from the start read 0 instead of missing, so rate() and alerts work at once.
        for operation in OPERATIONS:
            self.in_flight.labels(operation)
            _touch(self.tasks, operation, OUTCOMES)
            _touch(self.dead_letters, operation, DEAD_LETTER_REASONS)

    def task_started(self, operation: str) -> None:
        """One more attempt of ``operation`` in flight."""
        self._safely(lambda: self.in_flight.labels(operation).inc())

    def task_finished(self, operation: str, outcome: str) -> None:
        """An attempt left flight with ``outcome``."""
        self._safely(lambda: self.in_flight.labels(operation).dec())
        self._safely(lambda: self.tasks.labels(operation, outcome).inc())

    def dead_lettered(self, operation: str, reason: str) -> None:
        """A dead letter for ``operation`` was published with ``reason``."""
        self._safely(lambda: self.dead_letters.labels(operation, reason).inc())

    def sendx_call(self, operation: str, status: int | None, seconds: float) -> None:
        """One HTTP call to SendX took ``seconds`` and answered ``status`` (None: no answer)."""
        label = "none" if status is None else str(status)
        self._safely(lambda: self.request_seconds.labels(operation, label).observe(seconds))

    def lease_waited(self, seconds: float) -> None:
        """A delivery waited ``seconds`` for its contact's lease."""
        self._safely(lambda: self.lease_wait_seconds.observe(seconds))

    def circuit_changed(self, team: str, state: str, since: float) -> None:
        """``team``'s circuit became ``state``."""
        self._safely(lambda: self.circuit_open.labels(team).set(1 if state == "open" else 0))
        if state == "open":
            self._safely(lambda: self.circuit_opened_at.labels(team).set(since))

    def probe_finished(self, team: str, outcome: str) -> None:
        """A probe of ``team``'s circuit ended with ``outcome``."""
        self._safely(lambda: self.probes.labels(team, outcome).inc())

    def concurrency_limit(self, team: str, limit: float) -> None:
        """``team``'s adaptive limit moved."""
        self._safely(lambda: self.concurrency.labels(team).set(limit))

    @staticmethod
    def _safely(update: Any) -> None:
        # Metrics must never turn a delivery into a failure.
        try:
            update()
        except Exception:
            logger.debug("metrics update failed", exc_info=True)


def _touch(counter: Any, operation: str, values: Iterable[str]) -> None:
    for value in values:
        counter.labels(operation, value)


@dataclass(frozen=True)
class MetricsServer:
    """The running ``/metrics`` HTTP server and the port it took."""

    port: int
    server: Any

    def close(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()


def serve_metrics(port: int, *, registry: Any = None, addr: str = METRICS_ADDR) -> MetricsServer:
    """Serve ``/metrics`` on the first free port from ``port`` upwards, in a daemon thread.

    Raises ConfigurationError naming ``SENDX_METRICS_PORT`` when prometheus-client is
    missing or none of the ``METRICS_PORT_SPAN`` ports can be bound.
    """
    prometheus = require_prometheus_client()
    where = {"registry": registry} if registry is not None else {}
    last = min(port + METRICS_PORT_SPAN, 65536)
    reason = "no port left"
    for candidate in range(port, last):
        try:
            server, _thread = prometheus.start_http_server(candidate, addr=addr, **where)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            continue
        return MetricsServer(port=int(server.server_address[1]), server=server)
    raise ConfigurationError(
        "SENDX_METRICS_PORT", f"cannot serve metrics on any port from {port} to {last - 1}: {reason}"
    )
