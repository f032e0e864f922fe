"""The identify birthday: a real YYYY-MM-DD date, and none at all on the REST flavor."""

from __future__ import annotations

import datetime as dt

import pytest
from marshmallow import ValidationError

from sendx_worker.schemas import identify_payload, load_identify_wire
from tests.schemas.conftest import EMAIL, Side


def test_a_valid_birthday_stays_the_same_string(side: Side) -> None:
    assert side.identify(email=EMAIL, birthday="2000-02-29")["birthday"] == "2000-02-29"


def test_february_30_is_not_a_date(side: Side) -> None:
    assert side.errors(email=EMAIL, birthday="1989-02-30") == {"birthday": ["1989-02-30 is not a real date."]}


@pytest.mark.parametrize(
    "birthday", ["03/03/1989", "1989-3-3", "19890303", " 1989-03-03", "1989-03-03T00:00", 19890303]
)
def test_a_birthday_in_another_shape_is_an_error(side: Side, birthday: object) -> None:
    assert side.errors(email=EMAIL, birthday=birthday) == {
        "birthday": ["Not a valid date: use YYYY-MM-DD, e.g. 1989-03-03."]
    }


def test_a_date_object_becomes_the_birthday_string() -> None:
    assert identify_payload(email=EMAIL, birthday=dt.date(1989, 3, 3))["birthday"] == "1989-03-03"


def test_a_datetime_is_not_a_birthday() -> None:
    with pytest.raises(ValidationError) as info:
        identify_payload(email=EMAIL, birthday=dt.datetime(1989, 3, 3, tzinfo=dt.UTC))
    assert list(info.value.messages) == ["birthday"]


def test_a_birthday_on_the_rest_flavor_is_an_error_that_suggests_a_custom_field(side: Side) -> None:
    [message] = side.errors("rest", email=EMAIL, birthday="1989-03-03")["birthday"]
    assert "REST API has no birthday field" in message
    assert f'{side.key("custom_fields")}={{"Birthday": "1989-03-03"}}' in message


def test_a_malformed_birthday_on_the_rest_flavor_also_hears_that_rest_has_none(side: Side) -> None:
    messages = side.errors("rest", email=EMAIL, birthday="1989-02-30")["birthday"]
    assert messages[0] == "1989-02-30 is not a real date."
    assert "REST API has no birthday field" in messages[1]


def test_the_rest_flavor_accepts_everything_but_the_birthday(side: Side) -> None:
    wire = side.identify("rest", email=EMAIL, first_name="John", custom_fields={"Birthday": "1989-03-03"})
    assert wire == {"email": EMAIL, "firstName": "John", "customFields": {"Birthday": "1989-03-03"}}


def test_the_round_trip_keeps_a_v1_birthday() -> None:
    wire = identify_payload(email=EMAIL, birthday="1989-03-03")
    assert load_identify_wire(wire) == wire == {"email": EMAIL, "birthday": "1989-03-03"}
