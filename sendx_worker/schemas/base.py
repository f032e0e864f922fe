"""What every SendX payload schema shares: strictness, the flavor, and tidy output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from marshmallow import RAISE, Schema, ValidationError, post_load, pre_load

from ..jsonsafe import json_size, too_deep
from ..limits import MAX_DEPTH, MAX_PAYLOAD_BYTES
from ..settings import FLAVORS, Flavor

__all__ = ["PayloadSchema", "check_size", "require_object", "schema_for"]

_SchemaT = TypeVar("_SchemaT", bound=Schema)


class PayloadSchema(Schema):
    """Base of the payload schemas: unknown fields are errors; ``flavor`` picks the API's rules."""

    class Meta:
        unknown = RAISE

    _optional_keys_cache: frozenset[str] | None = None

    def __init__(self, flavor: Flavor = "v1") -> None:
        super().__init__()
        self.flavor: Flavor = flavor

    def key_of(self, name: str) -> str:
        """The key under which field ``name`` is read, and its errors reported."""
        return self.fields[name].data_key or name

    @pre_load
    def _drop_nones(self, data: Any, **kwargs: Any) -> Any:
        # None means "not given": Python callers pass optional arguments through as None,
        # and identify can never clear a property anyway. The required email is kept so
        # that email=None reads "Field may not be null." rather than "Missing data"; and
        # so is an unknown field, which is an error whatever its value.
        if not isinstance(data, Mapping):
            return data
        optional = self._optional_keys
        return {key: value for key, value in data.items() if value is not None or key not in optional}

    @property
    def _optional_keys(self) -> frozenset[str]:
        keys = self._optional_keys_cache
        if keys is None:
            keys = frozenset(self.key_of(name) for name in self.load_fields if name != "email")
            self._optional_keys_cache = keys
        return keys

    @post_load
    def _drop_empty(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        # An empty list or map changes nothing at SendX (tags accumulate, custom fields
        # merge), so it is dropped: the message stays minimal and a payload loads to the
        # same dict on the worker as it had in the producer.
        return {key: value for key, value in data.items() if not (isinstance(value, list | dict) and not value)}


def require_object(payload: Any) -> Mapping[str, Any]:
    """``payload`` if it is a mapping within the limits; otherwise a ValidationError naming where.

    The depth is checked before any field is read, without recursion; the size too.
    """
    if not isinstance(payload, Mapping):
        raise ValidationError({"payload": [f"Must be a JSON object, not {_json_kind(payload)}."]})
    deep = too_deep(payload, MAX_DEPTH)
    if deep is not None:
        raise ValidationError({deep: [f"Nested deeper than {MAX_DEPTH} levels (the limit)."]})
    return check_size(payload)


def check_size(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """``payload`` if its JSON is at most MAX_PAYLOAD_BYTES; otherwise a ValidationError under ``payload``."""
    size = json_size(payload)
    if size > MAX_PAYLOAD_BYTES:
        raise ValidationError(
            {"payload": [f"The update is {size} bytes as JSON; at most {MAX_PAYLOAD_BYTES} bytes are accepted."]}
        )
    return payload


def _json_kind(value: Any) -> str:
    # Named as JSON names them: the payload came off the queue as JSON.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def schema_for(schemas: Mapping[Flavor, _SchemaT], flavor: Flavor) -> _SchemaT:
    """The schema instance for ``flavor``; a ValueError names a flavor that does not exist."""
    try:
        return schemas[flavor]
    except KeyError:
        raise ValueError(f"flavor must be one of {', '.join(FLAVORS)}, not {flavor!r}") from None
