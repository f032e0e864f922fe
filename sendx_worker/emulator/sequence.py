"""SendX's contacts after a sequence of identify and track payloads, applied one after another.

The reference against which ordering is judged: whatever the retries, redeliveries and
concurrency, a contact must end as this function says its events, applied in the order
they happened, leave it. The same store and merge rules as the emulator's HTTP server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from .store import ContactStore
from .wire import Rejection, parse_identify, parse_track

__all__ = ["apply_in_order"]

TEAM = "sequence"


def apply_in_order(
    events: Iterable[tuple[Literal["identify", "track"], Mapping[str, Any]]], *, store: ContactStore | None = None
) -> ContactStore:
    """Apply each ``(operation, wire payload)`` in turn; one SendX would refuse changes nothing.

    Returns the store; read a contact with ``store.get(TEAM, email)``.
    """
    contacts = store if store is not None else ContactStore()
    for operation, payload in events:
        try:
            if operation == "identify":
                contacts.identify(TEAM, parse_identify(dict(payload), "v1"))
            else:
                body = {k: v for k, v in payload.items() if k != "email"}
                contacts.track(TEAM, parse_track(body, "v1", str(payload.get("email", ""))))
        except Rejection:
            continue
    return contacts
