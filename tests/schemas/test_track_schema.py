"""The track schema, on the Python side (producer) and the wire side (worker)."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from sendx_worker.schemas import load_track_wire, track_payload
from tests.schemas.conftest import EMAIL, Side


def test_a_track_becomes_the_camel_case_wire_dict(side: Side) -> None:
    wire = side.track(email=EMAIL, add_tags=["paid user"], remove_tags=["trial user"])
    assert wire == {"email": EMAIL, "addTags": ["paid user"], "removeTags": ["trial user"]}


@pytest.mark.parametrize("flavor", ["v1", "rest"])
def test_the_track_rules_are_the_same_in_both_flavors(side: Side, flavor: str) -> None:
    assert side.track(flavor, email=EMAIL, add_tags=["a"]) == {"email": EMAIL, "addTags": ["a"]}
    assert side.track_errors(flavor, email=EMAIL) == {
        side.key("add_tags"): ["A track must add or remove at least one tag."]
    }


def test_removing_only_is_a_track_and_the_empty_list_is_dropped(side: Side) -> None:
    assert side.track(email=EMAIL, add_tags=[], remove_tags=["trial user"]) == {
        "email": EMAIL,
        "removeTags": ["trial user"],
    }


@pytest.mark.parametrize("tags", [{}, {"add_tags": []}, {"add_tags": [], "remove_tags": []}, {"remove_tags": None}])
def test_a_track_must_add_or_remove_at_least_one_tag(side: Side, tags: dict[str, Any]) -> None:
    errors = side.track_errors(email=EMAIL, **tags)
    assert errors == {side.key("add_tags"): ["A track must add or remove at least one tag."]}


def test_a_track_cannot_add_and_remove_the_same_tag(side: Side) -> None:
    errors = side.track_errors(email=EMAIL, add_tags=["a", "b", "c"], remove_tags=["c", "x", "a"])
    assert errors == {side.key("remove_tags"): ['Cannot add and remove the same tag: "c", "a".']}


def test_tags_differing_only_in_case_are_different_tags(side: Side) -> None:
    wire = side.track(email=EMAIL, add_tags=["Paid"], remove_tags=["paid"])
    assert wire == {"email": EMAIL, "addTags": ["Paid"], "removeTags": ["paid"]}


def test_duplicate_tags_are_dropped_keeping_order(side: Side) -> None:
    wire = side.track(email=EMAIL, add_tags=["b", "a", "b"], remove_tags=["z", "z", "y"])
    assert wire == {"email": EMAIL, "addTags": ["b", "a"], "removeTags": ["z", "y"]}


@pytest.mark.parametrize("name", ["add_tags", "remove_tags"])
def test_a_bare_string_is_not_a_list_of_tags(side: Side, name: str) -> None:
    # Only the type error: "add or remove at least one tag" would be noise next to it.
    errors = side.track_errors(email=EMAIL, **{name: "paid user"})
    assert errors == {side.key(name): ['Must be a list of tag names, e.g. ["paid user"].']}


@pytest.mark.parametrize("name", ["add_tags", "remove_tags"])
def test_a_blank_or_non_string_tag_is_an_error_naming_its_position(side: Side, name: str) -> None:
    errors = side.track_errors(email=EMAIL, **{name: ["ok", "", 5]})
    assert errors == {side.key(name): {1: ["Must not be empty."], 2: ["Not a valid string."]}}


def test_a_tag_may_have_255_characters_but_not_256(side: Side) -> None:
    assert side.track(email=EMAIL, add_tags=["t" * 255])["addTags"] == ["t" * 255]
    assert side.track_errors(email=EMAIL, add_tags=["t" * 256]) == {
        side.key("add_tags"): {0: ["Longer than maximum length 255."]}
    }


def test_email_is_required(side: Side) -> None:
    assert side.track_errors(add_tags=["a"]) == {"email": ["Missing data for required field."]}


def test_an_invalid_email_is_an_error(side: Side) -> None:
    assert side.track_errors(email="john@", add_tags=["a"]) == {"email": ["Not a valid email address."]}


def test_surrounding_whitespace_is_stripped_from_the_email(side: Side) -> None:
    assert side.track(email=f"\t{EMAIL} ", add_tags=["a"])["email"] == EMAIL


def test_unknown_fields_are_errors_naming_the_field(side: Side) -> None:
    # "tags" belongs to identify, not track: a likely slip, so it must not pass silently.
    assert side.track_errors(email=EMAIL, add_tags=["a"], tags=["b"]) == {"tags": ["Unknown field."]}


def test_wire_errors_use_the_camel_case_names() -> None:
    with pytest.raises(ValidationError) as info:
        load_track_wire({"email": EMAIL, "addTags": "a", "remove_tags": ["b"]})
    assert set(info.value.messages) == {"addTags", "remove_tags"}
    assert info.value.messages_dict["remove_tags"] == ["Unknown field."]


def test_python_errors_use_the_snake_case_names() -> None:
    with pytest.raises(ValidationError) as info:
        track_payload(email=EMAIL, add_tags=["a"], remove_tags=["a"])
    assert list(info.value.messages) == ["remove_tags"]


@pytest.mark.parametrize("payload", [[], "x", None, 1.5])
def test_a_wire_payload_that_is_not_an_object_is_an_error(payload: object) -> None:
    with pytest.raises(ValidationError) as info:
        load_track_wire(payload)
    assert list(info.value.messages) == ["payload"]


@pytest.mark.parametrize("flavor", ["v1", "rest"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"email": EMAIL, "add_tags": ["a"]},
        {"email": f" {EMAIL}", "add_tags": ["a", "a"], "remove_tags": ["b"]},
        {"email": EMAIL, "add_tags": [], "remove_tags": ["b"]},
    ],
)
def test_the_round_trip_through_the_wire_changes_nothing(flavor: Any, kwargs: dict[str, Any]) -> None:
    wire = track_payload(flavor, **kwargs)
    assert load_track_wire(wire, flavor) == wire


def test_an_unknown_flavor_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="'v2'"):
        track_payload("v2", email=EMAIL, add_tags=["a"])  # type: ignore[arg-type]
