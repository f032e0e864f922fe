"""The dead letters as the console lists them: one read of the queue, filtered, searched, paged.

:class:`~sendx_worker.deadletter.DeadLetterQueue` reads the whole queue for each
look (a queue has no random access). The console keeps that read for
:data:`SNAPSHOT_S` and lets one request read at a time, so a page, its filter
counts and a second tab share one read; any action drops the snapshot. That is
comfortable up to some ten thousand dead letters (each read then takes about a
second); a dead-letter queue far larger than that wants a purge, or `dead list
--json` and a script.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..deadletter import REASONS, DeadLetterQueue, DeadLetterRecord, iso_utc
from ..masking import mask_email, mask_text

__all__ = [
    "AGES",
    "PAGE_SIZE",
    "Filter",
    "Page",
    "RecordBook",
    "choices",
    "contact_key",
    "email_of",
    "masked_email",
    "paginate",
]

PAGE_SIZE = 50
SNAPSHOT_S = 2.0
#: Age filter values: (label, newer than, older than) in seconds.
AGES: dict[str, tuple[str, float | None, float | None]] = {
    "1h": ("in the last hour", 3600, None),
    "24h": ("in the last 24 hours", 86400, None),
    "7d": ("in the last 7 days", 7 * 86400, None),
    "gt1d": ("more than a day ago", None, 86400),
    "gt7d": ("more than 7 days ago", None, 7 * 86400),
}
NO_STATUS = "none"
DEFAULT_TEAM = "-"


def email_of(record: DeadLetterRecord) -> str | None:
    """The contact's address in a record's payload, if it has one."""
    email = record.payload.get("email") if isinstance(record.payload, dict) else None
    return email if isinstance(email, str) else None


def masked_email(record: DeadLetterRecord) -> str:
    """The address as every page shows it: ``j***@example.com``, or ``-``."""
    email = email_of(record)
    return mask_email(email) if email is not None else "-"


def _stamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def contact_key(email: str) -> str:
    """The digest links and forms carry instead of a searched address (case and spaces ignored)."""
    return hashlib.sha256(email.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Filter:
    """Which dead letters: by reason, HTTP status, team, age, an exact e-mail, and up to a moment.

    A searched address is kept as its digest (``contact``) with its masked form
    (``shown``): links, forms and the action log never carry the address itself.
    """

    reason: str = ""
    status: str = ""
    team: str = ""
    age: str = ""
    contact: str = ""
    shown: str = ""
    #: Only records dead-lettered at or before this ISO time (fixed when a bulk action is confirmed).
    until: str = ""

    FIELDS = ("reason", "status", "team", "age", "contact", "shown", "until")

    @classmethod
    def read(cls, arg: Callable[[str], str]) -> Filter:
        """The filter from a request's values (unknown values are ignored, not errors)."""
        reason = arg("reason")
        age = arg("age")
        email = arg("email").strip()[:320]
        contact = contact_key(email) if email else arg("contact").lower()
        if not re.fullmatch(r"[0-9a-f]{64}", contact):
            contact = ""
        return cls(
            reason=reason if reason in REASONS else "",
            status=arg("status").strip()[:8],
            team=arg("team")[:200],
            age=age if age in AGES else "",
            contact=contact,
            shown=(mask_email(email) if email else mask_text(arg("shown")[:200])) if contact else "",
            until=arg("until") if _stamp(arg("until")) is not None else "",
        )

    def items(self) -> list[tuple[str, str]]:
        """The non-empty fields, for links and hidden form fields."""
        return [(name, getattr(self, name)) for name in self.FIELDS if getattr(self, name)]

    @property
    def active(self) -> bool:
        return any(getattr(self, name) for name in self.FIELDS if name != "until")

    def frozen(self, now: float) -> Filter:
        """This filter, limited to what exists now (so a bulk action never reaches newer arrivals)."""
        return self if self.until else replace(self, until=iso_utc(now))

    def matches(self, record: DeadLetterRecord, now: float) -> bool:
        if self.reason and record.reason != self.reason:
            return False
        if self.status and (str(record.status) if record.status is not None else NO_STATUS) != self.status:
            return False
        if self.team and (record.team or DEFAULT_TEAM) != self.team:
            return False
        if self.contact and contact_key(email_of(record) or "") != self.contact:
            return False
        when = _stamp(record.dead_lettered_at)
        if self.until and (when is None or when > (_stamp(self.until) or 0)):
            return False
        if self.age:
            _, newer, older = AGES[self.age]
            age = now - when if when is not None else None
            if age is None or (newer is not None and age > newer) or (older is not None and age < older):
                return False
        return True

    def describe(self) -> str:
        """``reason rejected, status 422, e-mail j***@example.com`` (the address masked)."""
        parts = []
        if self.reason:
            parts.append(f"reason {self.reason}")
        if self.status:
            parts.append(f"status {self.status}")
        if self.team:
            parts.append(f"team {self.team}")
        if self.age:
            parts.append(f"dead-lettered {AGES[self.age][0]}")
        if self.contact:
            parts.append(f"e-mail {self.shown or 'searched'}")
        return ", ".join(parts) or "all dead letters"


@dataclass(frozen=True)
class Page:
    """One page of matching records, newest first."""

    records: Sequence[DeadLetterRecord]
    number: int
    pages: int
    total: int


def paginate(records: Sequence[DeadLetterRecord], number: int, size: int = PAGE_SIZE) -> Page:
    pages = max(1, -(-len(records) // size))
    number = min(max(1, number), pages)
    return Page(records[(number - 1) * size : number * size], number, pages, len(records))


class RecordBook:
    """The dead letters, read at most once per :data:`SNAPSHOT_S` and one read at a time."""

    def __init__(self, queue: DeadLetterQueue, *, clock: Callable[[], float] = time.time) -> None:
        self.queue = queue
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: tuple[float, list[DeadLetterRecord]] | None = None

    def all(self) -> list[DeadLetterRecord]:
        """Every dead letter, the most recently dead-lettered first."""
        with self._lock:
            now = self._clock()
            if self._snapshot is None or now - self._snapshot[0] > SNAPSHOT_S:
                records = self.queue.records()
                records.reverse()  # the queue is oldest first; then by the time they died, newest first
                records.sort(key=lambda record: _stamp(record.dead_lettered_at) or 0.0, reverse=True)
                self._snapshot = (now, records)
            return list(self._snapshot[1])

    def matching(self, wanted: Filter) -> list[DeadLetterRecord]:
        now = self._clock()
        return [record for record in self.all() if wanted.matches(record, now)]

    def find(self, record_id: str) -> DeadLetterRecord | None:
        return next((record for record in self.all() if record.id == record_id), None)

    def forget(self) -> None:
        """Drop the snapshot: the next look reads the queue again."""
        with self._lock:
            self._snapshot = None

    def take(
        self, wanted: Callable[[DeadLetterRecord], bool], action: Callable[[DeadLetterRecord], None]
    ) -> list[DeadLetterRecord]:
        """:meth:`DeadLetterQueue.take`, while no page reads (it would find the queue empty), then forget."""
        with self._lock:
            try:
                return self.queue.take(wanted, action)
            finally:
                self._snapshot = None


def choices(records: Iterable[DeadLetterRecord]) -> dict[str, list[Any]]:
    """The values the filter menus offer: the statuses and teams present."""
    statuses, teams = set(), set()
    for record in records:
        statuses.add(str(record.status) if record.status is not None else NO_STATUS)
        teams.add(record.team or DEFAULT_TEAM)
    return {
        "reasons": list(REASONS),
        "statuses": sorted(statuses),
        "teams": sorted(teams),
        "ages": [(code, label) for code, (label, _, _) in AGES.items()],
    }
