"""What the commands that talk to the broker share: a producer app, and broker errors as one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from celery import Celery
from kombu.exceptions import OperationalError

from ..celery_app import create_app
from ..masking import mask_broker_url
from ..settings import Settings, load_settings
from .common import CommandError

__all__ = ["broker_errors", "pinned_app", "producer_app"]


def pinned_app(settings: Settings | None = None) -> Celery:
    """A Celery app for ``settings``' broker (default: the environment's), whatever CELERY_BROKER_URL says."""
    app = create_app(settings if settings is not None else load_settings())
    # Celery answers conf.broker_url from the CELERY_BROKER_URL variable when it is set,
    # before the app is configured and whatever the settings say: configure the app now
    # (settings_of() relies on that property to do it) and pin the URL it connects to,
    # so that the demo's settings win over a CELERY_BROKER_URL in the user's shell.
    url = app.conf["broker_url"]
    app.conf.broker_read_url = app.conf.broker_write_url = url
    return app


@contextmanager
def producer_app(settings: Settings | None = None) -> Iterator[Celery]:
    """A Celery app for the configured broker, closed (its connections released) afterwards."""
    app = pinned_app(settings)
    try:
        yield app
    finally:
        app.close()


@contextmanager
def broker_errors(app: Celery) -> Iterator[None]:
    """Turn a failure to reach ``app``'s broker into one CommandError naming the broker (no password)."""
    try:
        yield
    except CommandError:
        raise
    except (OSError, OperationalError, *app.connection_for_write().connection_errors) as exc:
        url = mask_broker_url(app.conf["broker_url"] or "")
        raise CommandError(f"cannot reach the broker at {url}: {type(exc).__name__}: {exc}") from exc
