"""The pieces under the schemas: increments, casing, error descriptions, the exports."""

from __future__ import annotations

import pytest

import sendx_worker.schemas as schemas
from sendx_worker.schemas import (
    INCREMENT_PATTERN,
    IdentifySchema,
    IdentifyWireSchema,
    TrackSchema,
    TrackWireSchema,
    describe_errors,
    is_increment,
)
from sendx_worker.schemas.casing import camelcase, to_wire


def test_the_public_api_is_exported() -> None:
    assert set(schemas.__all__) == {
        "INCREMENT_PATTERN",
        "IdentifySchema",
        "IdentifyWireSchema",
        "TrackSchema",
        "TrackWireSchema",
        "describe_errors",
        "identify_payload",
        "is_increment",
        "load_identify_wire",
        "load_track_wire",
        "track_payload",
    }
    assert all(hasattr(schemas, name) for name in schemas.__all__)


@pytest.mark.parametrize("value", ["++1", "--1", "++2.5", "--0.25", "++034", "++0"])
def test_a_double_sign_followed_by_a_number_is_an_increment(value: str) -> None:
    assert is_increment(value)


@pytest.mark.parametrize(
    "value", ["", "1", "+1", "-1", "++", "++x", "++1.", "++.5", "++1e3", "++ 1", " ++1", "+++1", "+-1", "++1\n", "++١"]
)
def test_anything_else_is_not_an_increment(value: str) -> None:
    assert not is_increment(value)


def test_the_increment_pattern_names_the_sign_and_the_amount() -> None:
    found = INCREMENT_PATTERN.match("--2.5")
    assert found is not None
    assert (found["sign"], found["amount"]) == ("--", "2.5")


def test_the_increment_pattern_is_anchored_at_both_ends() -> None:
    # The worker may call .match or .search; neither may accept a mere prefix or suffix.
    assert INCREMENT_PATTERN.match("++1abc") is None
    assert INCREMENT_PATTERN.search("x++1") is None


@pytest.mark.parametrize(
    ("name", "wire"),
    [("email", "email"), ("new_email", "newEmail"), ("custom_fields", "customFields"), ("remove_tags", "removeTags")],
)
def test_camelcase_turns_python_names_into_wire_names(name: str, wire: str) -> None:
    assert camelcase(name) == wire


def test_to_wire_renames_only_the_top_level_keys() -> None:
    loaded = {"custom_fields": {"snake_name": "x"}, "tags": ["snake_tag"]}
    assert to_wire(loaded) == {"customFields": {"snake_name": "x"}, "tags": ["snake_tag"]}


def test_the_wire_schemas_read_every_field_under_its_camel_case_name() -> None:
    for python_schema, wire_schema in [(IdentifySchema(), IdentifyWireSchema()), (TrackSchema(), TrackWireSchema())]:
        assert {name: field.data_key for name, field in wire_schema.fields.items()} == {
            name: camelcase(name) for name in python_schema.fields
        }
        assert all(field.data_key is None for field in python_schema.fields.values())


def test_describe_errors_joins_fields_in_one_line() -> None:
    messages = {"first_name": ["Longer than maximum length 255."], "email": ["Not a valid email address."]}
    assert describe_errors(messages) == "first_name: Longer than maximum length 255.; email: Not a valid email address."


def test_describe_errors_flattens_nested_messages_with_dots() -> None:
    messages = {"custom_fields": {"Logins": ["Bad."]}, "tags": {1: ["Must not be empty."]}}
    assert describe_errors(messages) == "custom_fields.Logins: Bad.; tags.1: Must not be empty."


def test_describe_errors_puts_several_messages_for_one_field_together() -> None:
    assert describe_errors({"birthday": ["One.", "Two."]}) == "birthday: One. Two."


def test_describe_errors_shows_schema_level_messages_without_a_name() -> None:
    assert describe_errors({"_schema": ["Invalid input type."]}) == "Invalid input type."
    assert describe_errors(["Invalid input type."]) == "Invalid input type."


def test_describe_errors_of_nothing_is_empty() -> None:
    assert describe_errors({}) == ""
