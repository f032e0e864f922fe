"""Worker start-up: our log format, refusing to start without credentials, the real concurrency."""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from ..errors import ConfigurationError
from ..logs import configure_logging
from ..settings import load_settings

__all__ = ["worker_concurrency"]


@signals.setup_logging.connect(weak=False)
def _setup_logging(loglevel: Any = logging.INFO, **_: Any) -> None:
    # Connecting to this signal stops Celery from installing its own handlers.
    level = logging.getLevelName(loglevel) if isinstance(loglevel, str) else (loglevel or logging.INFO)
    level = level if isinstance(level, int) else logging.INFO
    configure_logging(load_settings().log_format, level, batched=True)


@signals.worker_init.connect(weak=False)
def _require_credentials(sender: Any = None, **_: Any) -> None:
    # The worker refuses to call SendX without a key, or to deliver without ordering
    # unless told to (SENDX_ORDERING=off): fail at start, naming the variable,
    # rather than dead-letter every message for a missing setting. Celery swallows
    # exceptions from signal handlers, so leave with one line instead.
    from ..celery_app import settings_of

    try:
        settings = settings_of(sender.app)
        settings.credentials_for(None)
        if settings.ordering:
            settings.require_state_url()
    except ConfigurationError as exc:
        raise SystemExit(f"error: {exc}") from None


@signals.worker_init.connect(weak=False)
def _remember_worker(sender: Any = None, **_: Any) -> None:
    # `-c` (and `--autoscale`) live on the WorkController, not in app.conf, and `-c auto`
    # and the autoscale maximum are only settled after this signal: keep the controller,
    # and read it when the tasks first size their connection pools.
    app = getattr(sender, "app", None)
    if app is not None:
        app.sendx_work_controller = sender


def worker_concurrency(app: Any) -> int | None:
    """The running worker's concurrency (``-c``, or ``--autoscale``'s maximum); None outside a worker."""
    controller = getattr(app, "sendx_work_controller", None)
    if controller is None:
        return None
    value = getattr(controller, "max_concurrency", None) or getattr(controller, "concurrency", None)
    return value if isinstance(value, int) and value > 0 else None
