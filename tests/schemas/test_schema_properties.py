"""The schemas both ways, on generated input: the Python side and the wire side agree, and never crash.

- Python arguments: a ValidationError, or a wire payload the worker's schema loads to
  itself, that encodes as UTF-8 JSON within the limits.
- Any JSON on the wire (as a foreign producer may send): a ValidationError, or a
  payload that loads to itself again; never another exception, at any depth or size.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from marshmallow import ValidationError

from sendx_worker.limits import MAX_DEPTH, MAX_PAYLOAD_BYTES
from sendx_worker.schemas import describe_errors, identify_payload, load_identify_wire, load_track_wire, track_payload
from sendx_worker.schemas.fields import text_problem
from tests.support.shapes import nested

FLAVORS = ["v1", "rest"]

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(codec=None))
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
WIRE_TEXT = st.text(st.characters(codec=None), max_size=30) | st.sampled_from(
    ["John", "\ud800x", "a\x00b", "\x1b]0;owned\x07", "tab\tok", "++1", "--0.5", "++", "x" * 300]
)
EMAIL = st.emails() | st.sampled_from(["john@example.com", "nope", "\ud800@example.com", "a\x00@example.com"])


def identify_wire_dict() -> st.SearchStrategy[dict[str, Any]]:
    """Identify bodies made of the real field names with plausible and hostile values, plus strangers."""
    field = WIRE_TEXT | JSON
    return st.fixed_dictionaries(
        {"email": EMAIL | JSON},
        optional={
            "newEmail": EMAIL | JSON,
            "firstName": field,
            "lastName": field,
            "company": field,
            "birthday": st.dates().map(str) | field,
            "customFields": st.dictionaries(WIRE_TEXT, WIRE_TEXT | JSON, max_size=4) | JSON,
            "tags": st.lists(WIRE_TEXT | JSON, max_size=4) | JSON,
            "unknown": JSON,
            "also": st.none(),
        },
    )


def track_wire_dict() -> st.SearchStrategy[dict[str, Any]]:
    tags = st.lists(WIRE_TEXT | JSON, max_size=4) | JSON
    return st.fixed_dictionaries(
        {"email": EMAIL | JSON}, optional={"addTags": tags, "removeTags": tags, "unknown": JSON, "also": st.none()}
    )


def assert_sendable(wire: dict[str, Any]) -> None:
    """What the worker sends: UTF-8 JSON within the size limit, with no text SendX cannot take."""
    text = json.dumps(wire, ensure_ascii=False, allow_nan=False)
    text.encode("utf-8")
    assert len(json.dumps(wire)) <= MAX_PAYLOAD_BYTES
    for key in ("firstName", "lastName", "company"):
        if key in wire:
            assert text_problem(wire[key]) is None
    for tag in wire.get("tags", []) + wire.get("addTags", []) + wire.get("removeTags", []):
        assert text_problem(tag) is None


def load_or_refuse(load: Any, payload: Any, flavor: str) -> dict[str, Any] | None:
    try:
        loaded: dict[str, Any] = load(payload, flavor)
    except ValidationError as exc:
        assert isinstance(exc.messages, dict) and exc.messages
        note(describe_errors(exc.messages))
        return None
    assert load(loaded, flavor) == loaded  # what the worker accepted, it accepts again unchanged
    assert_sendable(loaded)
    return loaded


@pytest.mark.parametrize("flavor", FLAVORS)
@given(payload=identify_wire_dict() | JSON)
def test_any_identify_body_is_refused_by_field_or_loads_to_itself(flavor: str, payload: Any) -> None:
    load_or_refuse(load_identify_wire, payload, flavor)


@pytest.mark.parametrize("flavor", FLAVORS)
@given(payload=track_wire_dict() | JSON)
def test_any_track_body_is_refused_by_field_or_loads_to_itself(flavor: str, payload: Any) -> None:
    load_or_refuse(load_track_wire, payload, flavor)


PY_TEXT = WIRE_TEXT | st.binary(max_size=5) | st.integers()
PY_ANY = JSON | st.binary(max_size=5) | st.dates() | st.datetimes() | st.tuples(st.text(max_size=3))


@pytest.mark.parametrize("flavor", FLAVORS)
@given(
    email=EMAIL | PY_ANY,
    first_name=st.none() | PY_TEXT,
    company=st.none() | PY_TEXT | PY_ANY,
    birthday=st.none() | st.dates() | st.dates().map(str) | PY_ANY,
    custom_fields=st.none() | st.dictionaries(WIRE_TEXT | st.integers(), WIRE_TEXT | PY_ANY, max_size=4) | PY_ANY,
    tags=st.none() | st.lists(WIRE_TEXT | PY_ANY, max_size=4) | PY_ANY,
)
def test_identify_arguments_are_refused_by_name_or_become_a_body_the_worker_accepts_unchanged(
    flavor: str, **arguments: Any
) -> None:
    try:
        wire = identify_payload(flavor, **arguments)
    except ValidationError as exc:
        assert set(exc.messages) <= {*arguments, "payload"}, exc.messages
        return
    assert load_identify_wire(wire, flavor) == wire
    assert_sendable(wire)


@given(
    email=EMAIL | PY_ANY,
    add_tags=st.none() | st.lists(WIRE_TEXT | PY_ANY, max_size=4) | PY_ANY,
    remove_tags=st.none() | st.lists(WIRE_TEXT | PY_ANY, max_size=4) | PY_ANY,
)
def test_track_arguments_are_refused_by_name_or_become_a_body_the_worker_accepts_unchanged(**arguments: Any) -> None:
    try:
        wire = track_payload("v1", **arguments)
    except ValidationError as exc:
        assert set(exc.messages) <= set(arguments), exc.messages
        return
    assert load_track_wire(wire, "v1") == wire
    assert_sendable(wire)


# -- the limits and unsendable text, by name ----------------------------------------------


@pytest.mark.parametrize("depth", [MAX_DEPTH, 600, 100_000])
def test_deep_json_is_refused_naming_where_without_recursing(depth: int) -> None:
    with pytest.raises(ValidationError) as info:
        load_identify_wire({"email": "john@example.com", "customFields": nested(depth)})
    [(where, [message])] = info.value.messages.items()
    assert where.startswith("customFields.a.a")
    assert f"deeper than {MAX_DEPTH}" in message


def test_an_unknown_wire_field_is_refused_even_when_null() -> None:
    with pytest.raises(ValidationError) as info:
        load_identify_wire({"email": "john@example.com", "fistName": None})
    assert info.value.messages == {"fistName": ["Unknown field."]}


def test_a_known_optional_field_that_is_null_still_means_not_given() -> None:
    assert load_identify_wire({"email": "john@example.com", "firstName": None}) == {"email": "john@example.com"}


@pytest.mark.parametrize(
    ("value", "wanted"),
    [("\ud800", "lone surrogate (U+D800)"), ("a\x00", "U+0000"), ("\x1b[2J", "U+001B"), ("\x9b31m", "U+009B")],
)
def test_text_sendx_cannot_take_is_refused_on_both_sides(value: str, wanted: str) -> None:
    for load in (
        lambda: identify_payload(email="john@example.com", first_name=value),
        lambda: load_identify_wire({"email": "john@example.com", "firstName": value}),
        lambda: load_identify_wire({"email": "john@example.com", "tags": [value]}),
        lambda: load_identify_wire({"email": "john@example.com", "customFields": {value: "x"}}),
        lambda: load_identify_wire({"email": "john@example.com", "customFields": {"x": value}}),
        lambda: load_track_wire({"email": "john@example.com", "addTags": [value]}),
    ):
        with pytest.raises(ValidationError) as info:
            load()
        assert wanted in describe_errors(info.value.messages)


def test_a_custom_field_value_may_span_lines_and_hold_tabs() -> None:
    value = "12 Main St\r\nSpringfield\tUSA"
    assert load_identify_wire({"email": "a@example.com", "customFields": {"Address": value}})["customFields"] == {
        "Address": value
    }


def test_an_address_longer_than_254_characters_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        identify_payload(email="a" * 64 + "@" + "b" * 190 + ".com")
    assert info.value.messages == {"email": ["Longer than maximum length 254."]}


def test_a_payload_over_the_size_limit_is_refused_under_payload() -> None:
    fields = {f"f{i}": "x" * 60_000 for i in range(5)}
    with pytest.raises(ValidationError) as info:
        load_identify_wire({"email": "a@example.com", "customFields": fields})
    assert str(MAX_PAYLOAD_BYTES) in info.value.messages["payload"][0]
    with pytest.raises(ValidationError) as info:
        identify_payload(email="a@example.com", custom_fields=fields)
    assert list(info.value.messages) == ["payload"]
