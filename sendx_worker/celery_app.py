"""The Celery application, ``sendx_worker.app``.

Its configuration is read from the environment the first time Celery needs it
(not at import), so that ``import sendx_worker`` stays cheap and a bad variable
fails where the app is first used, naming the variable.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from .celeryconf import celery_config, embedded_broker_folder
from .settings import Settings, load_settings
from .worker import health as _health  # noqa: F401 - registers the `sendx_health` remote-control command
from .worker import metrics_hook as _metrics_hook  # noqa: F401 - serves metrics when SENDX_METRICS_PORT is set
from .worker import signals as _signals  # noqa: F401 - worker start-up hooks

__all__ = ["app", "create_app"]


def create_app(settings: Settings | None = None) -> Celery:
    """A Celery app for sendx-worker; ``settings=None`` reads them from the environment."""
    celery = Celery("sendx_worker", include=["sendx_worker.tasks"], set_as_current=False)

    def configure(sender: Celery, **_: Any) -> None:
        resolved = settings if settings is not None else load_settings()
        if resolved.uses_embedded_broker:
            # kombu's filesystem transport expects its folder to exist.
            embedded_broker_folder(resolved).mkdir(parents=True, exist_ok=True)
        sender.config_from_object(celery_config(resolved))
        # Kept on the app so that tasks and the worker read the very same object.
        sender.sendx_settings = resolved

    celery.on_configure.connect(configure, weak=False)
    return celery


app = create_app()


def settings_of(celery: Celery) -> Settings:
    """The :class:`Settings` a configured app was built from."""
    # Reading a setting configures the app, which attaches its settings; not
    # broker_url, which Celery answers from CELERY_BROKER_URL without configuring.
    _ = celery.conf.task_default_queue
    found: Settings = celery.sendx_settings
    return found
