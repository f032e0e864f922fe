"""What of an event to send, given what a contact's entry says was applied: pure functions.

The rules (docs: README, "Order and duplicates"), per contact (team + e-mail):

- ``firstName``, ``lastName``, ``company``, ``birthday`` and each custom field are
  last-writer-wins by event stamp: a value is sent unless the entry holds a newer stamp
  for it. Equal stamps (two processes in one microsecond) are both sent, in the order
  the workers take them.
- Each tag is last-writer-wins between add and remove (identify's ``tags`` are adds).
- ``++``/``--`` increments commute: they are never superseded, and are sent once: an
  event whose call succeeded is recorded done, and a redelivery of it sends nothing.
  An increment whose call may or may not have reached SendX is set aside for a person
  (``ambiguous_increment``), never resent.
- ``newEmail`` moves the contact. Afterwards the old address's entry says so; an event
  for the old address stamped *before* the move is sent to the new address (filtered
  by the new address's stamps, which inherit the old ones); one stamped *after* it is a
  new contact at the old address, as SendX would make. A move older than newer events
  already applied to the old address, or older than a later move, is not sent: it would
  carry newer data to the new address (a conflict, dead-lettered for a person). While a
  move's call is in doubt (it failed with no answer; its retry will tell), the old
  address's older events wait for it rather than guess where the contact is.

Nothing here does I/O: :mod:`.gate` reads and writes the entries around these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..schemas import is_increment
from ..state import ContactState, Move

__all__ = [
    "PROPERTIES",
    "Event",
    "Plan",
    "after_maybe_applied",
    "after_success",
    "after_superseded",
    "merged_for_move",
    "plan",
]

#: The identify properties that are last-writer-wins (custom fields too, as ``c:<name>``).
PROPERTIES = ("firstName", "lastName", "company", "birthday")

Operation = Literal["identify", "track"]
Verdict = Literal["send", "superseded", "duplicate", "redirect", "conflict", "wait"]


@dataclass(frozen=True)
class Event:
    """One identify or track, validated: its id (the task id), stamp and wire payload."""

    id: str
    operation: Operation
    stamp: int
    payload: Mapping[str, Any]

    @property
    def email(self) -> str:
        """The address the event is for."""
        return str(self.payload["email"])

    @property
    def new_email(self) -> str | None:
        """The address an identify moves the contact to, if any (and if it differs)."""
        new = self.payload.get("newEmail") if self.operation == "identify" else None
        return new if isinstance(new, str) and new != self.email else None

    def at(self, email: str) -> Event:
        """The same event addressed to ``email`` (a redirect after a move)."""
        return Event(id=self.id, operation=self.operation, stamp=self.stamp, payload={**self.payload, "email": email})


@dataclass(frozen=True)
class Plan:
    """The verdict on an event, and for ``send`` the payload and what sending it will record."""

    verdict: Verdict
    payload: dict[str, Any] = field(default_factory=dict)
    #: Entry keys (``firstName``, ``c:Plan``) and tags the payload carries, stamped on success.
    fields: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    #: How many parts of the event a newer applied event superseded (for logs and metrics).
    superseded: int = 0
    #: For ``redirect``: the address the contact moved to; for ``conflict``: why.
    to: str | None = None
    reason: str | None = None

    @property
    def increments(self) -> dict[str, str]:
        """The ``++``/``--`` custom fields the payload carries."""
        custom: Mapping[str, str] = self.payload.get("customFields") or {}
        return {name: value for name, value in custom.items() if is_increment(value)}


def plan(event: Event, state: ContactState, *, doubt_until: int | None = None) -> Plan:
    """What to do with ``event`` given ``state``, its contact's entry (lease held).

    ``doubt_until``: a move in doubt stamped before it no longer holds events (its
    retries are over by then); None: every move in doubt holds them.
    """
    if event.id in state.done:
        return Plan("duplicate")
    moved = state.moved
    if moved is not None and event.stamp < moved.at and moved.to != event.email:
        if event.new_email is not None:
            return Plan("conflict", reason=_older_move(moved))
        if not moved.doubtful:
            return Plan("redirect", to=moved.to)
        if doubt_until is None or moved.at > doubt_until:
            return Plan("wait", reason="a move of this contact is in doubt; its retry will tell where it is")
    for other, mark in state.pending.items():
        # A move whose delivery began and never finished (its worker died): SendX may
        # or may not have moved the contact; its redelivery will tell.
        if other == event.id or mark.to is None or mark.stamp <= event.stamp or mark.to == event.email:
            continue
        if doubt_until is None or mark.stamp > doubt_until:
            return Plan("wait", reason="a move of this contact is in doubt; its redelivery will tell where it is")
    if event.new_email is not None:
        newer = _newest(state)
        if newer > event.stamp:
            return Plan("conflict", reason="newer events of the old address were applied before this move")
    if event.operation == "identify":
        return _plan_identify(event, state)
    return _plan_track(event, state)


def _older_move(moved: Move) -> str:
    return "the contact moved again later; moving it now would undo the later move"


def _newest(state: ContactState) -> int:
    stamps = [*state.fields.values(), *state.tags.values()]
    return max(stamps, default=-1)


def _newer(stamps: Mapping[str, int], key: str, stamp: int) -> bool:
    """True when the entry holds a strictly newer stamp for ``key`` than ``stamp``."""
    found = stamps.get(key)
    return found is not None and found > stamp


def _plan_identify(event: Event, state: ContactState) -> Plan:
    source = event.payload
    payload: dict[str, Any] = {"email": event.email}
    if event.new_email is not None:
        payload["newEmail"] = event.new_email
    fields: list[str] = []
    superseded = 0
    for name in PROPERTIES:
        if name not in source:
            continue
        if _newer(state.fields, name, event.stamp):
            superseded += 1
        else:
            payload[name] = source[name]
            fields.append(name)
    custom: dict[str, str] = {}
    for name, value in (source.get("customFields") or {}).items():
        if is_increment(value):
            custom[name] = value  # commutes: never superseded
        elif _newer(state.fields, f"c:{name}", event.stamp):
            superseded += 1
        else:
            custom[name] = value
            fields.append(f"c:{name}")
    if custom:
        payload["customFields"] = custom
    tags = [tag for tag in source.get("tags") or () if not _newer(state.tags, tag, event.stamp)]
    superseded += len(source.get("tags") or ()) - len(tags)
    if tags:
        payload["tags"] = tags
    if superseded and len(payload) == 1 and state.known:
        # Every part lost to a newer event, and the contact exists: a bare identify
        # would change nothing. (Unknown, it is sent bare: identify also creates.)
        return Plan("superseded", superseded=superseded)
    return Plan("send", payload=payload, fields=tuple(fields), tags=tuple(tags), superseded=superseded)


def _plan_track(event: Event, state: ContactState) -> Plan:
    source = event.payload
    payload: dict[str, Any] = {"email": event.email}
    sent: list[str] = []
    superseded = 0
    for key in ("addTags", "removeTags"):
        kept = [tag for tag in source.get(key) or () if not _newer(state.tags, tag, event.stamp)]
        superseded += len(source.get(key) or ()) - len(kept)
        if kept:
            payload[key] = kept
            sent += kept
    if not sent:
        return Plan("superseded", superseded=superseded)
    return Plan("send", payload=payload, tags=tuple(sent), superseded=superseded)


def _stamped(state: ContactState, sent: Plan, stamp: int) -> ContactState:
    after = state.copy()
    for key in sent.fields:
        after.fields[key] = max(stamp, after.fields.get(key, stamp))
    for tag in sent.tags:
        after.tags[tag] = max(stamp, after.tags.get(tag, stamp))
    return after


def after_success(state: ContactState, event: Event, sent: Plan, now_s: int) -> ContactState:
    """The entry once SendX applied ``sent``: its stamps recorded, the event done."""
    after = _stamped(state, sent, event.stamp)
    after.pending.pop(event.id, None)
    after.done[event.id] = now_s
    after.known = True
    after.prune_done(now_s)
    return after


def after_superseded(state: ContactState, event: Event, now_s: int) -> ContactState:
    """The entry once ``event`` was found to need no call (superseded): done, so a redelivery skips it too."""
    after = state.copy()
    after.pending.pop(event.id, None)
    after.done[event.id] = now_s
    after.prune_done(now_s)
    return after


def after_maybe_applied(
    state: ContactState,
    event: Event,
    sent: Plan,
    *,
    may_have_reached: bool,
    refused: bool = False,
    earlier_unfinished: bool = False,
) -> ContactState:
    """The entry after a failed call: not done (it will be retried or dead-lettered).

    When the request may have reached SendX, its stamps are recorded anyway, so that an
    older event arriving meanwhile cannot overwrite what SendX may now hold; the retry
    of this event carries the same stamp, which an equal stamp lets through. A move in
    that case leaves a doubtful mark, which holds the address's older events until the
    move's retry settles it; so does a move whose ``earlier_unfinished`` delivery died
    after its call may have gone out. SendX ``refused`` a move (a 4xx): then it had not
    applied it before either (a move sent again after it was applied succeeds), and the
    mark goes.
    """
    after = _stamped(state, sent, event.stamp) if may_have_reached else state.copy()
    after.pending.pop(event.id, None)
    if event.new_email is not None and sent.verdict == "send":
        own = after.moved is not None and after.moved.at == event.stamp and after.moved.to == event.new_email
        if refused:
            if own:
                after.moved = None
        elif may_have_reached or earlier_unfinished:
            after.moved = Move(to=event.new_email, at=event.stamp, doubtful=True)
    return after


def merged_for_move(old: ContactState, new: ContactState) -> ContactState:
    """The new address's entry before a move is applied: it inherits the old address's stamps,
    finished events and pending marks (so that an older event that follows the contact
    there is still known as done, or as begun by a delivery that died)."""
    merged = new.copy()
    for key, stamp in old.fields.items():
        merged.fields[key] = max(stamp, merged.fields.get(key, stamp))
    for tag, stamp in old.tags.items():
        merged.tags[tag] = max(stamp, merged.tags.get(tag, stamp))
    merged.done = {**old.done, **merged.done}
    merged.pending = {**old.pending, **merged.pending}
    merged.known = old.known or new.known
    return merged


def moved_away(old: ContactState, event: Event, now_s: int) -> ContactState:
    """The old address's entry once the move is applied: a fresh contact that remembers where it went."""
    assert event.new_email is not None
    after = ContactState(done=dict(old.done), pending=dict(old.pending), moved=Move(to=event.new_email, at=event.stamp))
    after.pending.pop(event.id, None)
    after.done[event.id] = now_s
    after.prune_done(now_s)
    return after
