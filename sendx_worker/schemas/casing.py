"""snake_case on the Python side, camelCase on the wire, from one set of fields.

This is marshmallow's documented "inflection" pattern: a schema whose
``on_bind_field`` gives every field a camelCase ``data_key``, so the wire
variant of a schema reuses its rules and only renames what it reads and the
keys of its errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields

__all__ = ["CamelCaseSchema", "camelcase", "to_wire"]


def camelcase(name: str) -> str:
    """``custom_fields`` -> ``customFields``; a name without underscores is unchanged."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def to_wire(loaded: Mapping[str, Any]) -> dict[str, Any]:
    """Rename the top-level keys of a loaded payload to their wire names.

    Only the top level: custom field names and tags are user data, never renamed.
    """
    return {camelcase(name): value for name, value in loaded.items()}


class CamelCaseSchema(Schema):
    """Mix in first to read (and report errors under) camelCase names."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field[Any]) -> None:
        """Set the field's wire name to the camelCase form of its name."""
        field_obj.data_key = camelcase(field_obj.data_key or field_name)
