"""The identify schema, on the Python side (producer) and the wire side (worker)."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from sendx_worker.schemas import identify_payload, load_identify_wire
from sendx_worker.schemas.casing import camelcase
from tests.schemas.conftest import EMAIL, Side


def test_a_full_identify_becomes_the_camel_case_wire_dict(side: Side) -> None:
    wire = side.identify(
        email=EMAIL,
        new_email="johnny@example.com",
        first_name="John",
        last_name="Doe",
        company="Acme",
        birthday="1989-03-03",
        custom_fields={"Designation": "Engineer", "Logins": "++1"},
        tags=["Developer", "Beta"],
    )
    assert wire == {
        "email": EMAIL,
        "newEmail": "johnny@example.com",
        "firstName": "John",
        "lastName": "Doe",
        "company": "Acme",
        "birthday": "1989-03-03",
        "customFields": {"Designation": "Engineer", "Logins": "++1"},
        "tags": ["Developer", "Beta"],
    }


def test_fields_not_given_are_left_out_of_the_wire_dict(side: Side) -> None:
    assert side.identify(email=EMAIL, company="") == {"email": EMAIL, "company": ""}


def test_none_means_not_given(side: Side) -> None:
    assert side.identify(email=EMAIL, first_name=None, tags=None, birthday=None) == {"email": EMAIL}


def test_email_is_required(side: Side) -> None:
    assert side.errors(first_name="John") == {"email": ["Missing data for required field."]}


def test_a_null_email_is_an_error(side: Side) -> None:
    assert side.errors(email=None) == {"email": ["Field may not be null."]}


@pytest.mark.parametrize("address", ["", "john", "john@", "@example.com", "john doe@example.com", "john@exa mple.com"])
def test_an_invalid_email_is_an_error(side: Side, address: str) -> None:
    assert side.errors(email=address) == {"email": ["Not a valid email address."]}


def test_surrounding_whitespace_is_stripped_from_the_email_but_case_is_kept(side: Side) -> None:
    assert side.identify(email="  John.Doe@Example.com\n") == {"email": "John.Doe@Example.com"}


def test_a_new_email_is_validated_and_stripped_like_the_email(side: Side) -> None:
    assert side.errors(email=EMAIL, new_email="not-an-address") == {
        side.key("new_email"): ["Not a valid email address."]
    }
    assert side.identify(email=EMAIL, new_email=" new@example.com ")["newEmail"] == "new@example.com"


@pytest.mark.parametrize("name", ["first_name", "last_name", "company"])
def test_names_and_company_may_have_255_characters_but_not_256(side: Side, name: str) -> None:
    assert side.identify(email=EMAIL, **{name: "x" * 255})[camelcase(name)] == "x" * 255
    assert side.errors(email=EMAIL, **{name: "x" * 256}) == {side.key(name): ["Longer than maximum length 255."]}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("email", 5),
        ("new_email", ["a@example.com"]),
        ("first_name", 5),
        ("last_name", True),
        ("company", {"name": "Acme"}),
        ("tags", 5),
        ("tags", {"a": "b"}),
        ("custom_fields", ["Age", "27"]),
    ],
)
def test_wrong_types_are_errors_naming_the_field(side: Side, name: str, value: object) -> None:
    kwargs: dict[str, Any] = {"email": EMAIL, name: value}
    assert list(side.errors(**kwargs)) == [side.key(name)]


def test_bytes_are_not_a_string() -> None:
    with pytest.raises(ValidationError) as info:
        identify_payload(email=EMAIL, first_name=b"John")
    assert info.value.messages == {"first_name": ["Not a valid string."]}


def test_unknown_fields_are_errors_naming_the_field(side: Side) -> None:
    assert side.errors(email=EMAIL, phone="555") == {"phone": ["Unknown field."]}


def test_wire_errors_use_the_camel_case_names() -> None:
    with pytest.raises(ValidationError) as info:
        load_identify_wire({"email": EMAIL, "firstName": 5, "first_name": "John", "customFields": {"Age": 27}})
    assert set(info.value.messages) == {"firstName", "first_name", "customFields"}
    assert info.value.messages_dict["first_name"] == ["Unknown field."]


def test_python_errors_use_the_snake_case_names() -> None:
    with pytest.raises(ValidationError) as info:
        identify_payload(email=EMAIL, first_name=5, firstName="John")
    assert info.value.messages == {"first_name": ["Not a valid string."], "firstName": ["Unknown field."]}


def test_every_bad_field_is_reported_at_once(side: Side) -> None:
    errors = side.errors(email="nope", last_name=7, birthday="1989-13-01", tags="x")
    assert set(errors) == {"email", side.key("last_name"), "birthday", "tags"}


@pytest.mark.parametrize(
    ("payload", "kind"), [([], "an array"), ("{}", "a string"), (None, "null"), (5, "a number"), (True, "a boolean")]
)
def test_a_wire_payload_that_is_not_an_object_is_an_error(payload: object, kind: str) -> None:
    with pytest.raises(ValidationError) as info:
        load_identify_wire(payload)
    assert info.value.messages == {"payload": [f"Must be a JSON object, not {kind}."]}


@pytest.mark.parametrize("flavor", ["v1", "rest"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"email": EMAIL},
        {"email": f" {EMAIL} ", "tags": ["a", "a", "b"], "custom_fields": {"Logins": "++1", "Plan": "Pro"}},
        {
            "email": EMAIL,
            "new_email": "new@example.com",
            "first_name": "J",
            "last_name": "D",
            "company": "",
            "tags": [],
        },
    ],
)
def test_the_round_trip_through_the_wire_changes_nothing(flavor: Any, kwargs: dict[str, Any]) -> None:
    wire = identify_payload(flavor, **kwargs)
    assert load_identify_wire(wire, flavor) == wire


def test_an_unknown_flavor_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="'v2'"):
        identify_payload("v2", email=EMAIL)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'v2'"):
        load_identify_wire({"email": EMAIL}, "v2")  # type: ignore[arg-type]
