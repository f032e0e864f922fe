"""``sendx.identify_contact``: create or update a contact in SendX."""

from __future__ import annotations

from typing import Any

from ..celery_app import app
from .base import SendxTask
from .delivery import deliver
from .operations import IDENTIFY

__all__ = ["identify_contact"]


@app.task(name=IDENTIFY.task_name, base=SendxTask, bind=True)
def identify_contact(self: SendxTask, *args: Any, **kwargs: Any) -> str:
    """Send ``payload`` (SendX's identify body, camelCase) to POST /contact/identify."""
    return deliver(self, IDENTIFY, args, kwargs)
