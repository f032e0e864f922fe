"""What the state store remembers of one contact, for ordering and deduplication.

A contact's entry is a flat map of short keys, the same in every backend (a Redis
hash, a JSON object in PostgreSQL and SQLite, a dict in memory):

=================  ===================================================================
key                value
=================  ===================================================================
``f:<field>``      stamp of the last applied value of a property (``f:firstName``) or
                   custom field (``f:c:<name>``)
``t:<tag>``        stamp of the last applied add or remove of a tag
``d:<event id>``   the event's call succeeded (or it was wholly superseded), at this
                   second: a redelivery sends nothing
``p:<event id>``   ``"<stamp> <owner>[ <new e-mail>]"``: a delivery of the event (a move,
                   with its new address) began under lease ``owner`` and has not
                   finished; a delivery that finds another owner's mark knows an
                   earlier one may have called SendX
``m``              ``"<stamp> <new e-mail>"``: the contact moved to a new address then
``m?``             the same, for a move whose call may or may not have reached SendX
                   (it failed without an answer; its retry will tell)
``k``              ``1``: SendX holds this contact (an event for it succeeded)
=================  ===================================================================

Stamps are microseconds since the epoch (:mod:`sendx_worker.stamps`); ``d:`` values are
seconds. One prefix letter and a colon keep an entry small (bytes per contact are in
docs/SCALING.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["DONE_KEEP", "DONE_KEEP_S", "ContactState", "Move", "Pending"]

#: How many finished event ids a contact keeps, newest first, and for how long. A
#: redelivery of an event whose call succeeded comes within the broker's redelivery
#: delay (seconds on RabbitMQ, the visibility timeout on Redis), far inside either.
DONE_KEEP = 50
DONE_KEEP_S = 24 * 3600


@dataclass(frozen=True)
class Move:
    """The contact left this address for ``to`` with the event stamped ``at`` (``doubtful``: perhaps)."""

    to: str
    at: int
    doubtful: bool = False


@dataclass(frozen=True)
class Pending:
    """A delivery of the event stamped ``stamp`` began under lease ``owner`` (a move: to ``to``)."""

    stamp: int
    owner: str
    to: str | None = None

    def text(self) -> str:
        """The flat form, ``"<stamp> <owner>"`` or ``"<stamp> <owner> <to>"``."""
        return f"{self.stamp} {self.owner}" + (f" {self.to}" if self.to else "")

    @classmethod
    def parse(cls, text: object) -> Pending | None:
        """Read the flat form; None if it is not one."""
        stamp, _, rest = str(text).partition(" ")
        owner, _, to = rest.partition(" ")
        if not owner or not stamp.lstrip("-").isdigit():
            return None
        return cls(stamp=int(stamp), owner=owner, to=to or None)


@dataclass
class ContactState:
    """One contact's entry: stamps of applied fields and tags, finished and pending events."""

    fields: dict[str, int] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)
    moved: Move | None = None
    known: bool = False

    @classmethod
    def from_flat(cls, flat: Mapping[str, object]) -> ContactState:
        """Read an entry from its flat form; unknown keys (a newer version's) are ignored."""
        state = cls()
        for key, raw in flat.items():
            kind, _, name = key.partition(":")
            if key in ("m", "m?"):
                stamp, _, to = str(raw).partition(" ")
                if stamp.lstrip("-").isdigit() and to:
                    state.moved = Move(to=to, at=int(stamp), doubtful=key == "m?")
                continue
            if key == "k":
                state.known = str(raw) == "1"
                continue
            if kind == "p" and name:
                pending = Pending.parse(raw)
                if pending is not None:
                    state.pending[name] = pending
                continue
            target = {"f": state.fields, "t": state.tags, "d": state.done}.get(kind)
            if target is None or not name:
                continue
            try:
                target[name] = int(raw)  # type: ignore[call-overload]
            except (TypeError, ValueError):
                continue
        return state

    def to_flat(self) -> dict[str, int | str]:
        """The entry's flat form."""
        flat: dict[str, int | str] = {}
        for prefix, values in (("f", self.fields), ("t", self.tags), ("d", self.done)):
            for name, value in values.items():
                flat[f"{prefix}:{name}"] = value
        for event, pending in self.pending.items():
            flat[f"p:{event}"] = pending.text()
        if self.moved is not None:
            flat["m?" if self.moved.doubtful else "m"] = f"{self.moved.at} {self.moved.to}"
        if self.known:
            flat["k"] = "1"
        return flat

    def prune_done(self, now_s: int) -> None:
        """Forget finished events past :data:`DONE_KEEP_S`, and all but the newest :data:`DONE_KEEP`."""
        done = self.done
        if len(done) <= DONE_KEEP and all(now_s - at <= DONE_KEEP_S for at in done.values()):
            return  # nothing to forget: the usual case, without sorting on every delivery
        kept = sorted(
            ((at, event) for event, at in self.done.items() if now_s - at <= DONE_KEEP_S),
            reverse=True,
        )[:DONE_KEEP]
        self.done = {event: at for at, event in kept}

    def copy(self) -> ContactState:
        """An independent copy."""
        return ContactState(
            fields=dict(self.fields),
            tags=dict(self.tags),
            done=dict(self.done),
            pending=dict(self.pending),
            moved=self.moved,
            known=self.known,
        )
