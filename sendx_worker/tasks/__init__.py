"""The Celery tasks: thin glue from a message to the SendX client."""

from .identify import identify_contact
from .track import track_tags

__all__ = ["identify_contact", "track_tags"]
