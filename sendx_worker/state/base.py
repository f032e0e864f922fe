"""What the features built on the state store need of it, whatever the backend.

Ordering and deduplication (issue: every contact's updates land in order, and once)
need a per-contact *entry* read and written under a short *lease*. The circuit
breaker and the adaptive rate need small shared values with atomic transitions.
Every backend (:mod:`.redis`, :mod:`.postgres`, :mod:`.sqlite`, :mod:`.memory`)
implements :class:`StateStore`, and one test suite runs against each of them.

Every operation is atomic across the processes sharing the store. A backend that
cannot reach its server raises :class:`~sendx_worker.errors.StoreUnavailable`.
"""

from __future__ import annotations

from typing import Protocol

from .contact import ContactState, Pending

__all__ = ["StateStore", "contact_key"]


def contact_key(team: str | None, email: str) -> str:
    """The store's key of ``email``'s contact in ``team`` (None: the default team).

    The team's length leads, so that no team name and e-mail can spell another pair.
    """
    name = team or ""
    return f"{len(name)}:{name}:{email}"


class StateStore(Protocol):
    """A small shared store: contact entries under leases, and atomic values."""

    #: The store's URL with any password masked, for ``check`` and logs.
    display_url: str

    # --- contacts -------------------------------------------------------------------

    def begin(
        self, key: str, owner: str, *, lease_s: float, keep_s: float, event: str, mark: Pending
    ) -> ContactState | None:
        """Take the lease of contact ``key`` for ``owner``, mark ``event`` pending, and read the entry.

        The mark is ``mark`` (whose owner is ``owner``) unless the event is already marked: a
        mark left by an earlier delivery that never finished is kept, so the entry
        returned (as it is after the mark) tells this delivery about that one, and
        keeps the first stamp. Returns None, changing nothing, while another owner's
        lease runs. A lease lapses ``lease_s`` seconds after it was taken; an entry
        is forgotten ``keep_s`` seconds after its last write.
        """

    def finish(self, key: str, owner: str, state: ContactState, *, keep_s: float) -> bool:
        """Replace contact ``key``'s entry with ``state`` and release the lease.

        Only while ``owner`` is the lease's holder (a lapsed lease nobody else took
        still counts): otherwise nothing is written and the result is False. The
        entry is forgotten ``keep_s`` seconds after this write.
        """

    def peek(self, key: str) -> ContactState | None:
        """Contact ``key``'s entry without taking its lease (None: no entry)."""

    # --- values -----------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        """The value of ``key``, or None."""

    def compare_and_set(self, key: str, expected: str | None, new: str, *, ttl_s: float | None = None) -> bool:
        """Set ``key`` to ``new`` if its value is ``expected`` (None: absent); True if it was set."""

    def incr(self, key: str, by: int = 1, *, ttl_s: float | None = None) -> int:
        """Add ``by`` to the integer at ``key`` (absent: 0) and return the sum; ``ttl_s`` restarts its expiry."""

    def acquire(self, key: str, owner: str, *, ttl_s: float) -> bool:
        """Take the lease ``key`` for ``owner`` if it is free, lapsed or already ``owner``'s; True if taken."""

    def release(self, key: str, owner: str) -> bool:
        """Free the lease ``key`` if ``owner`` holds it; True if it did."""

    def delete(self, key: str) -> None:
        """Forget ``key``."""

    # --- the store itself ----------------------------------------------------------------

    def purge_expired(self) -> int:
        """Delete entries and values past their expiry (where the backend does not); returns how many."""

    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    def close(self) -> None:
        """Release connections; the store may not be used afterwards."""
