"""The worker's fast path for the payloads our producers send; marshmallow judges the rest.

A worker validates every message it takes again (a message may come from anywhere),
and marshmallow's ``Schema.load`` cost about 6 % of a worker's CPU per task (issue
12). What ``identify()``/``track()`` enqueue has one shape: a JSON object of the wire
names, strings, a list of tag strings, a map of custom field strings, no nulls. For
exactly that shape this module applies the same rules, with the fields' own validators
and problem functions (:mod:`.fields`), and returns what the schema would return, key
order included. Anything else (an unknown key, a null, a value of another type, a
value any rule refuses, a birthday on the REST flavor) returns None, and the caller
asks marshmallow, whose answer (and error messages) stand. So the fast path can only
accept what marshmallow accepts, with the identical result: a differential property
test holds it to that (tests/schemas/test_fast_path.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from marshmallow import ValidationError, fields

from ..jsonsafe import json_size
from ..limits import MAX_CUSTOM_FIELDS, MAX_EMAIL, MAX_PAYLOAD_BYTES, MAX_TAGS
from ..settings import Flavor
from .fields import _DATE_SHAPE, _name_problems, _value_problems

__all__ = ["fast_identify", "fast_track", "validators_of"]

_Validators = tuple[Callable[[Any], Any], ...]


def validators_of(schema: Any) -> dict[str, _Validators]:
    """Each wire key's validators in ``schema`` (``key[]``: a list's items'), for the fast path."""
    # The very validators marshmallow runs after each field's own conversion.
    found: dict[str, _Validators] = {}
    for field in schema.load_fields.values():
        found[field.data_key or field.name] = tuple(field.validators)
        if isinstance(field, fields.List):
            found[f"{field.data_key or field.name}[]"] = tuple(field.inner.validators)
    return found


def _passes(value: Any, validators: _Validators) -> bool:
    for validator in validators:
        try:
            if validator(value) is False:  # marshmallow counts a plain False as a failure too
                return False
        except ValidationError:
            return False
    return True


def _address(value: Any, validators: _Validators) -> bool:
    # Address strips surrounding whitespace; a value that has some is left to marshmallow.
    return type(value) is str and len(value) <= MAX_EMAIL and value.strip() == value and _passes(value, validators)


def _text(value: Any, validators: _Validators) -> bool:
    return type(value) is str and _passes(value, validators)


def _tags(value: Any, validators: _Validators) -> list[str] | None:
    if type(value) is not list or len(value) > MAX_TAGS:
        return None
    for tag in value:
        if not _text(tag, validators):
            return None
    return list(dict.fromkeys(value))


def _custom_fields(value: Any) -> dict[str, str] | None:
    if type(value) is not dict or len(value) > MAX_CUSTOM_FIELDS:
        return None
    for name, field_value in value.items():
        if type(field_value) is not str or _name_problems(name) or _value_problems(field_value):
            return None
    return dict(value)


def _birthday(value: Any) -> bool:
    if type(value) is not str or not _DATE_SHAPE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _within_size(payload: dict[str, Any]) -> bool:
    # Depth needs no check: the shape accepted here is three levels deep at most.
    size = json_size(payload)
    return 0 <= size <= MAX_PAYLOAD_BYTES


_IDENTIFY_ORDER = ("email", "newEmail", "firstName", "lastName", "company", "birthday", "customFields", "tags")
_TRACK_ORDER = ("email", "addTags", "removeTags")


def _ordered(loaded: dict[str, Any], order: Iterable[str]) -> dict[str, Any]:
    # The schema's result lists its fields in their declared order, empties dropped.
    return {key: loaded[key] for key in order if key in loaded and loaded[key] not in ([], {})}


def fast_identify(payload: Any, flavor: Flavor, validators: dict[str, _Validators]) -> dict[str, Any] | None:
    """The identify schema's result for ``payload``, or None: ask marshmallow."""
    if type(payload) is not dict or "email" not in payload or not _within_size(payload):
        return None
    loaded: dict[str, Any] = {}
    for key, value in payload.items():
        if key in ("email", "newEmail"):
            ok = _address(value, validators[key])
        elif key in ("firstName", "lastName", "company"):
            ok = _text(value, validators[key])
        elif key == "birthday":
            ok = flavor == "v1" and _birthday(value) and _passes(value, validators[key])
        elif key == "customFields":
            value = _custom_fields(value)
            ok = value is not None
        elif key == "tags":
            value = _tags(value, validators["tags[]"])
            ok = value is not None
        else:
            return None  # an unknown key (or a snake_case one): marshmallow names it
        if not ok:
            return None
        loaded[key] = value
    return _ordered(loaded, _IDENTIFY_ORDER)


def fast_track(payload: Any, validators: dict[str, _Validators]) -> dict[str, Any] | None:
    """The track schema's result for ``payload``, or None: ask marshmallow."""
    if type(payload) is not dict or "email" not in payload or not _within_size(payload):
        return None
    loaded: dict[str, Any] = {}
    for key, value in payload.items():
        if key == "email":
            if not _address(value, validators[key]):
                return None
        elif key in ("addTags", "removeTags"):
            value = _tags(value, validators[f"{key}[]"])
            if value is None:
                return None
        else:
            return None
        loaded[key] = value
    adding, removing = loaded.get("addTags") or [], loaded.get("removeTags") or []
    if (not adding and not removing) or any(tag in adding for tag in removing):
        return None  # the schema's own refusals, with its messages
    return _ordered(loaded, _TRACK_ORDER)
