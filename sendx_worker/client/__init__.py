"""The SendX HTTP client: speaks to SendX with ``requests``, never imports Celery.

::

    client = SendxClient.from_settings(settings, pool_size=32)
    client.identify({"email": "john@example.com", "tags": ["Developer"]})
    client.track({"email": "john@example.com", "addTags": ["paid user"], "removeTags": []})

Modules: :mod:`.sendx` (the client), :mod:`.classify` (transient, permanent or
auth: decided once), :mod:`.failures` (errors with their evidence),
:mod:`.flavors` (v1 and rest requests), :mod:`.session` (one pooled session per
thread), :mod:`.retry_after`, :mod:`.results`.
"""

from __future__ import annotations

from .classify import Verdict, classify, is_transient
from .results import Contact, IdentifyResult, TrackResult
from .retry_after import parse_retry_after
from .sendx import OnResponse, SendxClient

__all__ = [
    "Contact",
    "IdentifyResult",
    "OnResponse",
    "SendxClient",
    "TrackResult",
    "Verdict",
    "classify",
    "is_transient",
    "parse_retry_after",
]
