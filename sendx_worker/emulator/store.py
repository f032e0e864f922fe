"""SendX's contacts and merge semantics, as pure in-memory code (no HTTP).

The rules (SENDX_API.md): identify creates or updates the contact keyed by e-mail and
never deletes anything; tags accumulate; custom fields merge by name; ``"++34"`` adds
34 and ``"--10"`` subtracts 10, an empty field counting as 0; numbers are stored as
strings, integers without a decimal point. A request is applied whole or not at all.
"""

from __future__ import annotations

import hashlib
import re
import threading
from decimal import Decimal
from typing import Any

from .wire import IdentifyBody, Rejection, TrackBody

__all__ = ["ContactStore", "merge_custom_field", "merge_tags"]

Contact = dict[str, Any]

# Only "++"/"--" followed by a plain decimal number is an increment; any other value,
# "++abc" included, is stored as given, like any string.
_INCREMENT = re.compile(r"(\+\+|--)([0-9]+(?:\.[0-9]+)?)")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def merge_tags(current: list[str], added: list[str]) -> list[str]:
    """The union of ``current`` and ``added``: order kept, no duplicates."""
    merged = list(current)
    seen = set(merged)
    for tag in added:
        if tag not in seen:
            seen.add(tag)
            merged.append(tag)
    return merged


def merge_custom_field(name: str, current: str | None, given: str) -> str:
    """The value a custom field holds after identify sends ``given``.

    Raises Rejection(422) when ``given`` increments a field whose value is not a number.
    """
    match = _INCREMENT.fullmatch(given)
    if match is None:
        return given
    if not current:
        base = Decimal(0)
    elif _NUMBER.fullmatch(current):
        base = Decimal(current)
    else:
        raise Rejection(422, f"customFields.{name}: cannot apply {given!r} to the non-numeric value {current!r}")
    delta = Decimal(match.group(2))
    return _number_text(base + delta if match.group(1) == "++" else base - delta)


def _number_text(value: Decimal) -> str:
    # Decimal rather than float so that 0.1 + 0.2 stores "0.3"; integers lose the point.
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _digest(text: str) -> str:
    # SendX's ids are 22-character opaque strings; a hash keeps ours stable across runs.
    return hashlib.sha256(text.encode()).hexdigest()[:22]


def _copy(contact: Contact) -> Contact:
    return {**contact, "tags": list(contact["tags"]), "customFields": dict(contact["customFields"])}


class ContactStore:
    """Contacts in memory, kept separately per team; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._teams: dict[str, dict[str, Contact]] = {}
        self._created = 0

    def identify(self, team: str, body: IdentifyBody) -> Contact:
        """Create or update the contact ``body`` names; return a copy of it as stored."""
        with self._lock:
            contacts = self._teams.setdefault(team, {})
            key = body.email
            existing = contacts.get(key)
            if body.new_email is not None and body.new_email != body.email:
                other = contacts.get(body.new_email)
                if other is not None and existing is not None:
                    raise Rejection(422, "newEmail: another contact already has this e-mail address")
                if existing is None:
                    # Nothing at the old address (or it moved already: a move sent twice):
                    # the contact at the new address is updated, or created there.
                    existing = other
                key = body.new_email
            current_fields = existing["customFields"] if existing else {}
            # Computed before anything changes, so that a refused increment applies nothing.
            fields = dict(current_fields)
            for name, given in body.custom_fields.items():
                fields[name] = merge_custom_field(name, current_fields.get(name), given)
            contact = existing if existing is not None else self._new_contact(team)
            if key != body.email and body.email in contacts:
                del contacts[body.email]
            contacts[key] = contact
            contact["email"] = key
            contact.update(body.properties)
            contact["customFields"] = fields
            contact["tags"] = merge_tags(contact["tags"], body.tags)
            return _copy(contact)

    def track(self, team: str, body: TrackBody) -> None:
        """Add then remove tags; raise Rejection(404) when the team has no such contact."""
        with self._lock:
            contact = self._teams.get(team, {}).get(body.email)
            if contact is None:
                raise Rejection(404, "contact not found")
            removed = set(body.remove_tags)
            contact["tags"] = [tag for tag in merge_tags(contact["tags"], body.add_tags) if tag not in removed]

    def get(self, team: str, email: str) -> Contact | None:
        """A copy of the stored contact, or None."""
        with self._lock:
            contact = self._teams.get(team, {}).get(email)
            return None if contact is None else _copy(contact)

    def contacts(self, team: str) -> dict[str, Contact]:
        """Copies of every contact of ``team``, by e-mail."""
        with self._lock:
            return {email: _copy(contact) for email, contact in self._teams.get(team, {}).items()}

    def clear(self) -> None:
        """Forget every contact of every team."""
        with self._lock:
            self._teams.clear()

    def _new_contact(self, team: str) -> Contact:
        self._created += 1
        return {
            "encryptedTeamId": _digest(f"team:{team}"),
            "encryptedId": _digest(f"contact:{team}:{self._created}"),
            "tags": [],
            "firstName": "",
            "lastName": "",
            "email": "",
            "company": "",
            "birthday": "",
            "customFields": {},
        }
