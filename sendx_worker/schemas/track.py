"""The track payload: add tags to and remove tags from one contact."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, validates_schema

from ..settings import FLAVORS, Flavor
from .base import PayloadSchema, check_size, require_object, schema_for
from .casing import CamelCaseSchema, to_wire
from .fast import fast_track, validators_of
from .fields import Address, TagList

__all__ = ["TrackSchema", "TrackWireSchema", "load_track_wire", "track_payload"]


class TrackSchema(PayloadSchema):
    """The producer's track arguments, in Python's snake_case."""

    email = Address(required=True)
    add_tags = TagList()
    remove_tags = TagList()

    # Skipped when a field failed: "add at least one tag" would be noise next to
    # "add_tags: Must be a list".
    @validates_schema
    def _tags_make_sense(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        adding: list[str] = data.get("add_tags", [])
        removing: list[str] = data.get("remove_tags", [])
        if not adding and not removing:
            raise ValidationError("A track must add or remove at least one tag.", self.key_of("add_tags"))
        # Adding and removing the same tag in one call has no defined order at SendX,
        # and either tag change may start an automation: refuse rather than guess.
        both = [tag for tag in removing if tag in adding]
        if both:
            names = ", ".join(f'"{tag}"' for tag in both)
            raise ValidationError(f"Cannot add and remove the same tag: {names}.", self.key_of("remove_tags"))


class TrackWireSchema(CamelCaseSchema, TrackSchema):
    """A track body in SendX's camelCase wire format, as the worker receives it."""


# Track's rules are the same in both flavors (v1 moves the email to the query string,
# which is the client's business); one instance per flavor keeps the API uniform.
_PYTHON_SIDE = {flavor: TrackSchema(flavor) for flavor in FLAVORS}
_WIRE_SIDE = {flavor: TrackWireSchema(flavor) for flavor in FLAVORS}
_WIRE_VALIDATORS = {flavor: validators_of(schema) for flavor, schema in _WIRE_SIDE.items()}


def track_payload(flavor: Flavor = "v1", /, **kwargs: Any) -> dict[str, Any]:
    """Validate track's Python arguments and return the wire dict.

    Raises ValidationError whose messages are keyed by the Python names.
    """
    return dict(check_size(to_wire(schema_for(_PYTHON_SIDE, flavor).load(kwargs))))


def load_track_wire(payload: Any, flavor: Flavor = "v1", *, fast: bool = True) -> dict[str, Any]:
    """Validate a track wire dict from the queue and return it normalized.

    Raises ValidationError whose messages are keyed by the wire names. ``fast``: the
    producers' own shape is checked without marshmallow (:mod:`.fast`), with the same result.
    """
    schema = schema_for(_WIRE_SIDE, flavor)
    if fast:
        loaded = fast_track(payload, _WIRE_VALIDATORS[flavor])
        if loaded is not None:
            return loaded
    return to_wire(schema.load(require_object(payload)))
