"""What the emulator accepts on the wire: request bodies checked strictly, as typed values.

SendX answers 422 to a bad body. The emulator is stricter than SendX is known to be
(unknown fields, ``null`` values and empty tag names are refused too), so that a client
bug shows up in our tests rather than as silently ignored data in production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

__all__ = [
    "Flavor",
    "IdentifyBody",
    "Rejection",
    "TrackBody",
    "is_valid_email",
    "parse_identify",
    "parse_track",
]

Flavor = Literal["v1", "rest"]

# The REST API's contact model caps these at 255 characters; v1 is held to the same.
_MAX_NAME = 255
_MAX_EMAIL = 254
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@" + _LABEL + r"(?:\." + _LABEL + r")+")
_BIRTHDAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PROPERTIES = ("firstName", "lastName", "company", "birthday")
_IDENTIFY_FIELDS: dict[Flavor, frozenset[str]] = {
    "v1": frozenset({"email", "newEmail", "customFields", "tags", *_PROPERTIES}),
    # The REST API has no birthday (the official SDK's IdentifyRequest has none).
    "rest": frozenset({"email", "newEmail", "customFields", "tags", "firstName", "lastName", "company"}),
}
_TRACK_FIELDS: dict[Flavor, frozenset[str]] = {
    "v1": frozenset({"addTags", "removeTags"}),  # v1 carries the e-mail in the query
    "rest": frozenset({"email", "addTags", "removeTags"}),
}


class Rejection(Exception):
    """Raised when SendX would refuse a request; carries the HTTP status and SendX's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class IdentifyBody:
    """A checked identify body; ``properties`` holds only the fields that were given."""

    email: str
    new_email: str | None
    properties: dict[str, str]
    custom_fields: dict[str, str]
    tags: list[str]


@dataclass(frozen=True)
class TrackBody:
    """A checked track request."""

    email: str
    add_tags: list[str]
    remove_tags: list[str]


def is_valid_email(value: str) -> bool:
    """True for an address SendX would accept: ``local@domain.tld``, at most 254 characters."""
    return len(value) <= _MAX_EMAIL and _EMAIL.fullmatch(value) is not None


def parse_identify(body: Any, flavor: Flavor) -> IdentifyBody:
    """Check an identify body for ``flavor``; raise Rejection(422) naming every bad field."""
    problems = _unknown_fields(body, _IDENTIFY_FIELDS[flavor])
    email = _email(body, "email", problems, required=True)
    new_email = _email(body, "newEmail", problems, required=False)
    properties: dict[str, str] = {}
    for name in _PROPERTIES:
        if name in body and name in _IDENTIFY_FIELDS[flavor]:
            value = body[name]
            if not isinstance(value, str):
                problems.append(f"{name}: must be a string")
            elif name == "birthday" and not _is_date(value):
                problems.append("birthday: must be a date YYYY-MM-DD")
            elif len(value) > _MAX_NAME:
                problems.append(f"{name}: must be at most {_MAX_NAME} characters")
            else:
                properties[name] = value
    custom_fields = _custom_fields(body.get("customFields", {}), problems)
    tags = _tags(body, "tags", problems)
    _raise_if(problems)
    assert email is not None  # _email reported a missing one as a problem
    return IdentifyBody(email, new_email, properties, custom_fields, tags)


def parse_track(body: Any, flavor: Flavor, query_email: str | None) -> TrackBody:
    """Check a track request (e-mail from the query for v1, the body for rest)."""
    problems = _unknown_fields(body, _TRACK_FIELDS[flavor])
    if flavor == "v1":
        email = query_email or ""
        if not is_valid_email(email):
            problems.append("email: the query parameter must be a valid e-mail address")
    else:
        email = _email(body, "email", problems, required=True) or ""
    add_tags = _tags(body, "addTags", problems)
    remove_tags = _tags(body, "removeTags", problems)
    _raise_if(problems)
    return TrackBody(email, add_tags, remove_tags)


def _unknown_fields(body: Any, allowed: frozenset[str]) -> list[str]:
    if not isinstance(body, dict):
        raise Rejection(422, "the body must be a JSON object")
    return [f"{name}: unknown field" for name in body if name not in allowed]


def _email(body: dict[str, Any], name: str, problems: list[str], *, required: bool) -> str | None:
    if name not in body:
        if required:
            problems.append(f"{name}: is required")
        return None
    value = body[name]
    if not isinstance(value, str) or not is_valid_email(value):
        problems.append(f"{name}: must be a valid e-mail address")
        return None
    return value


def _custom_fields(value: Any, problems: list[str]) -> dict[str, str]:
    if not isinstance(value, dict):
        problems.append("customFields: must be an object of string values")
        return {}
    fields: dict[str, str] = {}
    for key, item in value.items():
        if not key:
            problems.append("customFields: field names must not be empty")
        elif not isinstance(item, str):
            problems.append(f'customFields.{key}: must be a string (numbers too, e.g. "27")')
        else:
            fields[key] = item
    return fields


def _tags(body: dict[str, Any], name: str, problems: list[str]) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(tag, str) and tag for tag in value):
        problems.append(f"{name}: must be a list of non-empty strings")
        return []
    return value


def _is_date(value: str) -> bool:
    if _BIRTHDAY.fullmatch(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _raise_if(problems: list[str]) -> None:
    if problems:
        raise Rejection(422, "; ".join(problems))
