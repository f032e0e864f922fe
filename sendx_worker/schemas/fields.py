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
import reprlib
from collections.abc import Mapping, Sized
from typing import Any

from marshmallow import ValidationError, fields
from marshmallow.types import ErrorMessages
from marshmallow.utils import is_collection
from marshmallow.validate import Length

from ..limits import MAX_CUSTOM_FIELD_VALUE, MAX_CUSTOM_FIELDS, MAX_EMAIL, MAX_NAME, MAX_TAGS

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
    "text_problem",
]

#: SendX's REST contact model caps names, companies and tags at this many characters.
MAX_LENGTH = MAX_NAME

#: A SendX increment: ``++N`` adds N to a number custom field, ``--N`` subtracts it.
#: Anchored with ``\A``/``\Z`` so that ``match``, ``search`` and ``fullmatch`` agree,
#: and ``[0-9]`` rather than ``\d`` so that no other script's digits slip through.
INCREMENT_PATTERN = re.compile(r"\A(?P<sign>\+\+|--)(?P<amount>[0-9]+(?:\.[0-9]+)?)\Z")

_INCREMENT_PREFIXES = ("++", "--")
_DATE_SHAPE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
# Characters no name may hold: C0 and C1 control characters and DEL (NUL included: many
# stores cannot keep it, and the others are invisible or drive terminals). A custom
# field value may hold tab, line feed and carriage return (an address, a note).
_CONTROL_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_shown = reprlib.Repr()
_shown.maxstring = 60


def is_increment(value: object) -> bool:
    """True when ``value`` is a SendX increment such as ``"++1"`` or ``"--2.5"`` (False for a non-string)."""
    return isinstance(value, str) and INCREMENT_PATTERN.match(value) is not None


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why SendX cannot be sent ``value``, or None.

    A lone UTF-16 surrogate (``"\\ud800"``, which JSON can carry) cannot be encoded as
    UTF-8, so no request could hold it; NUL and the other control characters are refused
    too (tab, line feed and carriage return are allowed where ``multiline``).
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(value[exc.start])
        return f"Must not contain a lone surrogate (U+{code:04X}): it cannot be encoded as UTF-8."
    found = (_CONTROL_IN_TEXT if multiline else _CONTROL_IN_LINE).search(value)
    if found is not None:
        return f"Must not contain control characters (found U+{ord(found.group()):04X})."
    return None


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be empty.")


def _sendable(value: str) -> None:
    problem = text_problem(value)
    if problem is not None:
        raise ValidationError(problem)


class Text(fields.String):
    """A string of at most 255 characters that SendX can take; bytes and numbers are errors."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=[Length(max=MAX_LENGTH), _sendable], **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        # marshmallow's String decodes bytes; a caller passing bytes has a bug worth hearing about.
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return value


class TagName(Text):
    """A tag name: a non-blank string of at most 255 characters, without control characters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(_not_blank)


class Address(fields.Email):
    """An e-mail address of at most 254 characters; surrounding whitespace is stripped, nothing else is changed."""

    default_error_messages: ErrorMessages = {  # noqa: RUF012
        "not_text": "Not a valid string.",
        "too_long": f"Longer than maximum length {MAX_EMAIL}.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("not_text")
        # Stripping happens here, before the Email validator sees the value, so that
        # " john@example.com\n" (a copy-paste habit) is accepted and sent clean.
        address = value.strip()
        if len(address) > MAX_EMAIL:
            raise self.make_error("too_long")  # before the validator's patterns run on a long text
        return address


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
        if len(value) > MAX_CUSTOM_FIELDS:
            raise ValidationError(f"At most {MAX_CUSTOM_FIELDS} custom fields in one identify, not {len(value)}.")
        result: dict[str, str] = {}
        errors: dict[str, list[str]] = {}
        for name, field_value in value.items():
            problems = _name_problems(name) + _value_problems(field_value)
            if problems:
                # A blank or non-string name cannot key a readable message: show it quoted.
                errors[name if isinstance(name, str) and name.strip() else _shown.repr(name)] = problems
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
    problem = text_problem(name)
    return [] if problem is None else [problem]


def _value_problems(value: Any) -> list[str]:
    # SendX stores every custom field value as a string ("27"), and "27" vs 27 vs 27.0
    # would each render differently; so we refuse to guess and say what to send.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [f'Must be a string such as "{value}": SendX custom field values are always strings.']
    if not isinstance(value, str):
        return ["Must be a string: SendX custom field values are always strings."]
    if len(value) > MAX_CUSTOM_FIELD_VALUE:
        return [f"Custom field values must be at most {MAX_CUSTOM_FIELD_VALUE} characters."]
    if value.startswith(_INCREMENT_PREFIXES) and not is_increment(value):
        shown = value if len(value) <= 60 else _shown.repr(value)[1:-1]
        return [f'"{shown}" is not an increment: "{value[:2]}" must be followed by a number, e.g. "++1" or "--2.5".']
    problem = text_problem(value, multiline=True)
    return [] if problem is None else [problem]


class TagList(fields.List[str]):
    """A list of at most 1,000 tag names; duplicates are dropped, first occurrence kept."""

    default_error_messages: ErrorMessages = {"invalid": 'Must be a list of tag names, e.g. ["paid user"].'}  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(TagName(), **kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[str | None]:
        # List refuses a bare string (it is not split into characters) and a mapping.
        # (No item is None: TagName does not allow it; the type is List's.)
        if is_collection(value) and isinstance(value, Sized) and len(value) > MAX_TAGS:
            raise ValidationError(f"At most {MAX_TAGS} tags in one list, not {len(value)}.")
        return list(dict.fromkeys(super()._deserialize(value, attr, data, **kwargs)))
