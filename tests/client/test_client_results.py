"""Results and the lenient parsing of the contact SendX sends back."""

from __future__ import annotations

import dataclasses

import pytest

from sendx_worker.client import Contact, IdentifyResult
from sendx_worker.client.results import contact_in

V1_ANSWER = {
    "status": "200",
    "message": "OK",
    "data": {
        "encryptedTeamId": "tm",
        "encryptedId": "c-1",
        "tags": ["API Team", "Tech"],
        "firstName": "John",
        "lastName": "Doe",
        "email": "john@example.com",
        "company": "",
        "birthday": "1989-03-03",
        "customFields": {"Age": "29", "Designation": "Software Engineer"},
    },
}


def test_the_documented_v1_answer_becomes_a_typed_contact() -> None:
    contact = contact_in(V1_ANSWER)
    assert contact == Contact(
        email="john@example.com",
        first_name="John",
        last_name="Doe",
        company="",
        birthday="1989-03-03",
        tags=("API Team", "Tech"),
        custom_fields={"Age": "29", "Designation": "Software Engineer"},
        encrypted_id="c-1",
    )


@pytest.mark.parametrize(
    "body",
    [None, "OK", {"status": "200", "message": "OK"}, {"data": "success"}, {"data": {"unrelated": 1}}, {"data": []}],
)
def test_a_body_without_a_contact_gives_none(body: object) -> None:
    assert contact_in(body) is None


def test_odd_values_are_coerced_or_skipped_rather_than_failing() -> None:
    contact = Contact.from_wire(
        {
            "email": "a@b.io",
            "firstName": {"nested": 1},
            "tags": ["ok", 7, None, {"x": 1}, True],
            "customFields": {"Age": 29, "Bad": None, "List": [1]},
        }
    )
    assert contact is not None
    assert contact.first_name is None
    assert contact.tags == ("ok", "7")
    assert dict(contact.custom_fields) == {"Age": "29"}


def test_a_contact_with_tags_that_are_not_a_list_has_no_tags() -> None:
    contact = Contact.from_wire({"email": "a@b.io", "tags": "Tech", "customFields": "x"})
    assert contact is not None and contact.tags == () and dict(contact.custom_fields) == {}


def test_results_and_contacts_are_immutable() -> None:
    result = IdentifyResult(status=200, contact=contact_in(V1_ANSWER), elapsed_s=0.1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = 500  # type: ignore[misc]
    assert result.contact is not None
    with pytest.raises(TypeError):
        result.contact.custom_fields["Age"] = "30"  # type: ignore[index]
