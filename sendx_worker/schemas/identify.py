"""The identify payload: create or update one contact."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, validates_schema

from ..settings import FLAVORS, Flavor
from .base import PayloadSchema, check_size, require_object, schema_for
from .casing import CamelCaseSchema, to_wire
from .fast import fast_identify, validators_of
from .fields import Address, Birthday, CustomFields, TagList, Text

__all__ = ["IdentifySchema", "IdentifyWireSchema", "identify_payload", "load_identify_wire"]


class IdentifySchema(PayloadSchema):
    """The producer's identify arguments, in Python's snake_case."""

    email = Address(required=True)
    new_email = Address()
    first_name = Text()
    last_name = Text()
    company = Text()
    birthday = Birthday()
    custom_fields = CustomFields()
    tags = TagList()

    # Runs even when fields failed, so that a malformed birthday on the REST flavor
    # also hears that the field does not exist there (the more useful news).
    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _birthday_needs_v1(self, data: Mapping[str, Any], original_data: Any, **kwargs: Any) -> None:
        key = self.key_of("birthday")
        if self.flavor != "rest" or not isinstance(original_data, Mapping) or original_data.get(key) is None:
            return
        example = json.dumps({"Birthday": data.get("birthday", "1989-03-03")})
        raise ValidationError(
            f"The REST API has no birthday field; send it as a custom field instead, "
            f"e.g. {self.key_of('custom_fields')}={example}.",
            key,
        )


class IdentifyWireSchema(CamelCaseSchema, IdentifySchema):
    """An identify body in SendX's camelCase wire format, as the worker receives it."""


_PYTHON_SIDE = {flavor: IdentifySchema(flavor) for flavor in FLAVORS}
_WIRE_SIDE = {flavor: IdentifyWireSchema(flavor) for flavor in FLAVORS}
_WIRE_VALIDATORS = {flavor: validators_of(schema) for flavor, schema in _WIRE_SIDE.items()}


def identify_payload(flavor: Flavor = "v1", /, **kwargs: Any) -> dict[str, Any]:
    """Validate identify's Python arguments and return the wire dict.

    Raises ValidationError whose messages are keyed by the Python names.
    """
    return dict(check_size(to_wire(schema_for(_PYTHON_SIDE, flavor).load(kwargs))))


def load_identify_wire(payload: Any, flavor: Flavor = "v1", *, fast: bool = True) -> dict[str, Any]:
    """Validate an identify wire dict from the queue and return it normalized.

    Raises ValidationError whose messages are keyed by the wire names. ``fast``: the
    producers' own shape is checked without marshmallow (:mod:`.fast`), with the same result.
    """
    schema = schema_for(_WIRE_SIDE, flavor)
    if fast:
        loaded = fast_identify(payload, flavor, _WIRE_VALIDATORS[flavor])
        if loaded is not None:
            return loaded
    return to_wire(schema.load(require_object(payload)))
