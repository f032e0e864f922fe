"""The store operations on a contact entry held as a plain dict, shared by the backends
that keep an entry as one JSON document and run the operation in a transaction of their
own (SQLite, memory). Redis and PostgreSQL do the same in a script or one statement."""

from __future__ import annotations

from typing import Any

from .contact import ContactState, Pending

__all__ = ["LEASE_OWNER", "LEASE_UNTIL", "begun_entry", "finished_entry", "lease_free_for", "state_of"]

LEASE_OWNER = "L"
LEASE_UNTIL = "X"


def lease_free_for(entry: dict[str, Any], owner: str, now: float) -> bool:
    """True when ``owner`` may take the entry's lease: free, lapsed or already its own."""
    holder = entry.get(LEASE_OWNER)
    return holder is None or holder == owner or float(entry.get(LEASE_UNTIL, 0)) <= now


def begun_entry(entry: dict[str, Any], owner: str, until: float, event: str, mark: Pending) -> dict[str, Any]:
    """``entry`` with the lease taken by ``owner`` until ``until`` and ``event`` marked pending."""
    begun = dict(entry)
    begun[LEASE_OWNER] = owner
    begun[LEASE_UNTIL] = until
    begun.setdefault(f"p:{event}", mark.text())
    return begun


def finished_entry(state: ContactState) -> dict[str, Any]:
    """The entry that replaces the old one when its lease holder finishes (no lease)."""
    return dict(state.to_flat())


def state_of(entry: dict[str, Any]) -> ContactState:
    """The contact state an entry holds (its lease fields left out)."""
    return ContactState.from_flat({k: v for k, v in entry.items() if k not in (LEASE_OWNER, LEASE_UNTIL)})
