"""How long a contact's lease and its entry last, from the settings.

The lease must outlast the longest call it covers: a connect (at most 3.05 s) and a
read (``SENDX_TIMEOUT``), plus a margin for the store round trips around them. Held
longer, a killed worker's contacts would wait that much longer for their next event.

The entry must outlast any message that can still arrive for the contact: a retry
comes at most ``SENDX_RETRY_WINDOW_S`` (72 h) after the event's first attempt, and a
backlog may hold a message unread before that; a week of backlog is allowed for. An
event older than that whose contact has no entry left is sent as it is, as it would
be without ordering (a backfill from an app's own records, say).
"""

from __future__ import annotations

from ..client.sendx import CONNECT_TIMEOUT_CAP_S
from ..settings import Settings

__all__ = ["BACKLOG_ALLOWANCE_S", "LEASE_MARGIN_S", "keep_seconds", "lease_seconds"]

LEASE_MARGIN_S = 10.0
BACKLOG_ALLOWANCE_S = 7 * 24 * 3600.0


def lease_seconds(settings: Settings) -> float:
    """How long a contact's lease lasts: the longest call plus a margin (23 s by default)."""
    return CONNECT_TIMEOUT_CAP_S + settings.timeout_s + LEASE_MARGIN_S


def keep_seconds(settings: Settings) -> float:
    """How long a contact's entry is kept after its last write (10 days by default)."""
    return settings.retry_window_s + BACKLOG_ALLOWANCE_S
