"""``sendx.track_tags``: add and remove a contact's tags in SendX."""

from __future__ import annotations

from typing import Any

from ..celery_app import app
from .base import SendxTask
from .delivery import deliver
from .operations import TRACK

__all__ = ["track_tags"]


@app.task(name=TRACK.task_name, base=SendxTask, bind=True)
def track_tags(self: SendxTask, *args: Any, **kwargs: Any) -> str:
    """Send ``payload`` (``{email, addTags, removeTags}``) to POST /contact/track."""
    return deliver(self, TRACK, args, kwargs)
