"""Celery settings of sendx-worker as a plain config module.

The package configures its own app (``celery -A sendx_worker worker`` needs
nothing else); this module exposes the very same settings, read from the same
environment through :func:`sendx_worker.settings.load_settings`, for tools that
want a config module (``celery --config celeryconfig ...``) or for reading them.
"""

from sendx_worker.celeryconf import celery_config
from sendx_worker.settings import load_settings

globals().update(celery_config(load_settings()))
