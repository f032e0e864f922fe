"""Identify's custom fields (string values, ++N/--N increments) and tags."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from sendx_worker.schemas import identify_payload
from tests.schemas.conftest import EMAIL, Side


def test_empty_tags_and_custom_fields_are_dropped(side: Side) -> None:
    assert side.identify(email=EMAIL, tags=[], custom_fields={}) == {"email": EMAIL}


@pytest.mark.parametrize("value", [27, 27.5, -3])
def test_a_number_custom_field_value_is_an_error_showing_the_string_to_send(side: Side, value: object) -> None:
    [message] = side.errors(email=EMAIL, custom_fields={"Age": value})[side.key("custom_fields")]["Age"]
    assert f'"{value}"' in message
    assert "always strings" in message


@pytest.mark.parametrize("value", [True, None, ["27"], {"n": "27"}])
def test_other_non_string_custom_field_values_are_errors(side: Side, value: object) -> None:
    errors = side.errors(email=EMAIL, custom_fields={"Age": value})
    assert errors == {
        side.key("custom_fields"): {"Age": ["Must be a string: SendX custom field values are always strings."]}
    }


@pytest.mark.parametrize("value", ["++", "--", "++x", "--1.", "++ 1", "+++1", "++1e3", "--.5", "++١"])
def test_an_increment_must_be_followed_by_a_number(side: Side, value: str) -> None:
    [message] = side.errors(email=EMAIL, custom_fields={"Logins": value})[side.key("custom_fields")]["Logins"]
    assert message.startswith(f'"{value}" is not an increment')


@pytest.mark.parametrize("value", ["++1", "--2.5", "++034", "--10"])
def test_increments_followed_by_a_number_are_kept_as_given(side: Side, value: str) -> None:
    assert side.identify(email=EMAIL, custom_fields={"Logins": value})["customFields"] == {"Logins": value}


@pytest.mark.parametrize("value", ["-5", "+5", "C++", "a--b", "", " ++1"])
def test_values_that_do_not_start_with_a_double_sign_are_plain_values(side: Side, value: str) -> None:
    assert side.identify(email=EMAIL, custom_fields={"Note": value})["customFields"] == {"Note": value}


@pytest.mark.parametrize("name", ["", "   "])
def test_custom_field_names_must_not_be_blank(side: Side, name: str) -> None:
    errors = side.errors(email=EMAIL, custom_fields={name: "x", "Fine": "y"})
    assert errors == {side.key("custom_fields"): {repr(name): ["Custom field names must not be empty."]}}


def test_a_custom_field_name_may_have_255_characters_but_not_256(side: Side) -> None:
    assert side.identify(email=EMAIL, custom_fields={"n" * 255: "x"})["customFields"] == {"n" * 255: "x"}
    errors = side.errors(email=EMAIL, custom_fields={"n" * 256: "x"})
    assert errors == {side.key("custom_fields"): {"n" * 256: ["Custom field names must be at most 255 characters."]}}


def test_a_non_string_custom_field_name_is_an_error() -> None:
    with pytest.raises(ValidationError) as info:
        identify_payload(email=EMAIL, custom_fields={1: "x"})
    assert info.value.messages == {"custom_fields": {"1": ["Custom field names must be strings."]}}


def test_duplicate_tags_are_dropped_keeping_order(side: Side) -> None:
    assert side.identify(email=EMAIL, tags=["b", "a", "b", "c", "a"])["tags"] == ["b", "a", "c"]


def test_a_blank_tag_is_an_error_naming_its_position(side: Side) -> None:
    assert side.errors(email=EMAIL, tags=["ok", " "]) == {"tags": {1: ["Must not be empty."]}}


def test_a_tag_may_have_255_characters_but_not_256(side: Side) -> None:
    assert side.identify(email=EMAIL, tags=["t" * 255])["tags"] == ["t" * 255]
    assert side.errors(email=EMAIL, tags=["t" * 256]) == {"tags": {0: ["Longer than maximum length 255."]}}


def test_a_bare_string_is_not_a_list_of_tags(side: Side) -> None:
    assert side.errors(email=EMAIL, tags="Developer") == {"tags": ['Must be a list of tag names, e.g. ["paid user"].']}
