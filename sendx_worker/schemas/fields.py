"""The marshmallow fields behind SendX's contact payloads, each rule written once.

Every field is strict about types: SendX stores strings, so a number or bytes
where a string belongs is an error naming the field, never a silent conversion.

(``default_error_messages`` is a class-level dict because that is how marshmallow
merges messages along the class hierarchy; it is never mutated, hence the RUF012
waivers.)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields
from marshmallow.types import ErrorMessages
from marshmallow.validate import Length

__all__ = [
    "INCREMENT_PATTERN",
    "MAX_LENGTH",
    "Address",
    "Birthday",
    "CustomFields",
    "TagList",
    "TagName",
    "Text",
    "is_increment",
]

#: SendX's REST contact model caps names, companies and tags at this many characters.
MAX_LENGTH = 255

#: A SendX increment: ``++N`` adds N to a number custom field, ``--N`` subtracts it.
#: Anchored with ``\A``/``\Z`` so that ``match``, ``search`` and ``fullmatch`` agree,
#: and ``[0-9]`` rather than ``\d`` so that no other script's digits slip through.
INCREMENT_PATTERN = re.compile(r"\A(?P<sign>\+\+|--)(?P<amount>[0-9]+(?:\.[0-9]+)?)\Z")

_INCREMENT_PREFIXES = ("++", "--")
_DATE_SHAPE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


def is_increment(value: object) -> bool:
    """True when ``value`` is a SendX increment such as ``"++1"`` or ``"--2.5"`` (False for a non-string)."""
    return isinstance(value, str) and INCREMENT_PATTERN.match(value) is not None


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be empty.")


class Text(fields.String):
    """A string of at most 255 characters; bytes and numbers are errors."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=Length(max=MAX_LENGTH), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        # marshmallow's String decodes bytes; a caller passing bytes has a bug worth hearing about.
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return value


class TagName(Text):
    """A tag name: a non-blank string of at most 255 characters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(_not_blank)


class Address(fields.Email):
    """An e-mail address; surrounding whitespace is stripped, nothing else is changed."""

    default_error_messages: ErrorMessages = {"not_text": "Not a valid string."}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("not_text")
        # Stripping happens here, before the Email validator sees the value, so that
        # " john@example.com\n" (a copy-paste habit) is accepted and sent clean.
        return value.strip()


class Birthday(fields.Field[str]):
    """A real calendar date as the string ``YYYY-MM-DD`` (a ``datetime.date`` is accepted too)."""

    default_error_messages: ErrorMessages = {  # noqa: RUF012
        "invalid": "Not a valid date: use YYYY-MM-DD, e.g. 1989-03-03.",
        "no_such_day": "{input} is not a real date.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        # A date object is unambiguous, so Python callers may pass one; a datetime is
        # not (which day, in which zone?), so it is refused like any other type.
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value.isoformat()
        if not isinstance(value, str) or not _DATE_SHAPE.match(value):
            raise self.make_error("invalid")
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise self.make_error("no_such_day", input=value) from None
        return value


class CustomFields(fields.Field[dict[str, str]]):
    """A map of custom field names to string values; errors are keyed by the field name."""

    default_error_messages: ErrorMessages = {  # noqa: RUF012
        "invalid": "Must be a mapping of custom field names to string values.",
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, str]:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        result: dict[str, str] = {}
        errors: dict[str, list[str]] = {}
        for name, field_value in value.items():
            problems = _name_problems(name) + _value_problems(field_value)
            if problems:
                # A blank or non-string name cannot key a readable message: show it quoted.
                errors[name if isinstance(name, str) and name.strip() else repr(name)] = problems
            else:
                result[name] = field_value
        if errors:
            raise ValidationError(errors)
        return result


def _name_problems(name: Any) -> list[str]:
    if not isinstance(name, str):
        return ["Custom field names must be strings."]
    if not name.strip():
        return ["Custom field names must not be empty."]
    if len(name) > MAX_LENGTH:
        return [f"Custom field names must be at most {MAX_LENGTH} characters."]
    return []


def _value_problems(value: Any) -> list[str]:
    # SendX stores every custom field value as a string ("27"), and "27" vs 27 vs 27.0
    # would each render differently; so we refuse to guess and say what to send.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [f'Must be a string such as "{value}": SendX custom field values are always strings.']
    if not isinstance(value, str):
        return ["Must be a string: SendX custom field values are always strings."]
    if value.startswith(_INCREMENT_PREFIXES) and not is_increment(value):
        return [f'"{value}" is not an increment: "{value[:2]}" must be followed by a number, e.g. "++1" or "--2.5".']
    return []


class TagList(fields.List[str]):
    """A list of tag names; duplicates are dropped, first occurrence kept."""

    default_error_messages: ErrorMessages = {"invalid": 'Must be a list of tag names, e.g. ["paid user"].'}  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(TagName(), **kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[str | None]:
        # List refuses a bare string (it is not split into characters) and a mapping.
        # (No item is None: TagName does not allow it; the type is List's.)
        return list(dict.fromkeys(super()._deserialize(value, attr, data, **kwargs)))
