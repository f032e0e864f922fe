"""Worker start-up: serve Prometheus metrics when ``SENDX_METRICS_PORT`` is set.

On ``worker_init`` (in the worker's main process, before it consumes) the hook
starts the ``/metrics`` HTTP server and attaches a
:class:`~sendx_worker.metrics.PrometheusObserver` to the app, which delivery
reports to. The threads, gevent and solo pools run tasks in that process, so
the server sees every count. Several worker processes on one machine (each a
separate ``celery worker``) each take the first free port from
``SENDX_METRICS_PORT`` upwards and log the one they took.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, signals

from ..errors import ConfigurationError
from ..logs import context
from ..metrics import MetricsServer, PrometheusObserver, serve_metrics

__all__ = ["install_metrics", "uses_prefork"]

logger = logging.getLogger(__name__)

_PREFORK_NAMES = ("prefork", "processes")


def install_metrics(app: Celery, *, registry: Any = None) -> MetricsServer | None:
    """Serve metrics and attach a PrometheusObserver to ``app`` if its settings ask for it.

    Returns the running server (None when metrics are off). Raises ConfigurationError
    when prometheus-client is missing or no port can be bound.
    """
    # Not `conf.broker_url`: Celery answers that one from CELERY_BROKER_URL without
    # configuring the app, and configuring is what attaches the settings.
    _ = app.conf.task_default_queue
    port = app.sendx_settings.metrics_port
    if port is None:
        return None
    observer = PrometheusObserver(registry)
    served = serve_metrics(port, registry=registry)
    app.sendx_observer = observer
    return served


def uses_prefork(pool: Any) -> bool:
    """True if ``pool`` (a worker's ``pool_cls``: a name, a class or None) is Celery's prefork pool."""
    if pool is None:
        return True  # Celery's default
    if isinstance(pool, str):
        return pool.split(":")[0] in (*_PREFORK_NAMES, "celery.concurrency.prefork")
    return getattr(pool, "__module__", "") == "celery.concurrency.prefork"


@signals.worker_init.connect(weak=False)
def _start_metrics(sender: Any = None, **_: Any) -> None:
    try:
        served = install_metrics(sender.app)
    except ConfigurationError as exc:
        # Celery logs and swallows exceptions from signal handlers; SystemExit is not
        # an Exception, so it stops the worker with this one line on stderr.
        raise SystemExit(f"error: {exc}") from None
    if served is not None:
        # Logged once the worker is ready: logging is not set up yet at worker_init.
        sender.app.sendx_metrics = (served, uses_prefork(getattr(sender, "pool_cls", None)))


@signals.worker_ready.connect(weak=False)
def _report_metrics(sender: Any = None, **_: Any) -> None:
    found = getattr(getattr(sender, "app", None), "sendx_metrics", None)
    if found is None:
        return
    served, prefork = found
    logger.info("metrics served", extra=context(port=served.port, path="/metrics"))
    if prefork:
        logger.warning(
            "metrics are counted in the worker's main process, but the prefork pool runs tasks in "
            "child processes: start the worker with -P threads (or gevent) for metrics",
            extra=context(port=served.port),
        )
