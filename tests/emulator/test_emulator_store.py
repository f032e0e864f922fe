"""SendX's merge semantics and body checks, as pure code (no HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from sendx_worker.emulator.store import ContactStore, merge_custom_field, merge_tags
from sendx_worker.emulator.wire import IdentifyBody, Rejection, TrackBody, is_valid_email, parse_identify


def body(
    email: str = "a@example.com",
    *,
    new_email: str | None = None,
    properties: dict[str, str] | None = None,
    custom_fields: dict[str, str] | None = None,
    tags: list[str] | None = None,
) -> IdentifyBody:
    """An identify body with only the given parts."""
    return IdentifyBody(email, new_email, properties or {}, custom_fields or {}, tags or [])


def stored(store: ContactStore, team: str, email: str) -> dict[str, Any]:
    """The stored contact, which must exist."""
    contact = store.get(team, email)
    assert contact is not None
    return contact


def test_tags_accumulate_in_order_without_duplicates() -> None:
    assert merge_tags(["API Team", "Tech"], ["Tech", "Paid", "Paid", "API Team", "New"]) == [
        "API Team",
        "Tech",
        "Paid",
        "New",
    ]


@pytest.mark.parametrize(
    ("current", "given", "stored"),
    [
        (None, "++34", "34"),
        ("", "++34", "34"),
        ("34", "++6", "40"),
        ("40", "--10", "30"),
        (None, "--10", "-10"),
        ("5", "--5", "0"),
        ("1", "++0.5", "1.5"),
        ("0.1", "++0.2", "0.3"),
        ("2.5", "--0.5", "2"),
        ("-3", "++1", "-2"),
        ("7", "29", "29"),
    ],
)
def test_increments_add_and_subtract_and_store_plain_number_text(current: str | None, given: str, stored: str) -> None:
    assert merge_custom_field("Logins", current, given) == stored


@pytest.mark.parametrize("given", ["++abc", "--", "++", "+ +1", "++1e3", "Engineer"])
def test_a_value_that_is_not_an_increment_is_stored_as_given(given: str) -> None:
    assert merge_custom_field("Note", "12", given) == given


def test_an_increment_of_a_non_numeric_value_is_refused_with_422() -> None:
    with pytest.raises(Rejection) as caught:
        merge_custom_field("Designation", "Engineer", "++1")
    assert caught.value.status == 422
    assert "Designation" in caught.value.message


def test_a_refused_increment_applies_nothing_else_from_the_same_request() -> None:
    store = ContactStore()
    store.identify("t", body(custom_fields={"Designation": "Engineer"}))
    with pytest.raises(Rejection):
        store.identify("t", body(properties={"firstName": "John"}, tags=["X"], custom_fields={"Designation": "++1"}))
    contact = stored(store, "t", "a@example.com")
    assert (contact["firstName"], contact["tags"], contact["customFields"]) == ("", [], {"Designation": "Engineer"})


def test_identify_never_deletes_what_a_later_call_leaves_out() -> None:
    store = ContactStore()
    store.identify("t", body(properties={"firstName": "John", "company": "ACME"}, tags=["A"], custom_fields={"X": "1"}))
    contact = store.identify("t", body(properties={"lastName": "Doe"}))
    assert (contact["firstName"], contact["lastName"], contact["company"]) == ("John", "Doe", "ACME")
    assert contact["tags"] == ["A"]
    assert contact["customFields"] == {"X": "1"}


def test_new_email_moves_the_contact_and_keeps_its_id() -> None:
    store = ContactStore()
    before = store.identify("t", body(properties={"firstName": "John"}))
    after = store.identify("t", body(new_email="b@example.com", tags=["Moved"]))
    assert store.get("t", "a@example.com") is None
    assert after["email"] == "b@example.com"
    assert after["encryptedId"] == before["encryptedId"]
    assert (after["firstName"], after["tags"]) == ("John", ["Moved"])


def test_new_email_creates_the_contact_there_when_the_old_address_has_none() -> None:
    store = ContactStore()
    store.identify("t", body(new_email="b@example.com"))
    assert store.get("t", "a@example.com") is None
    assert store.get("t", "b@example.com") is not None


def test_new_email_that_another_contact_holds_is_refused_and_moves_nothing() -> None:
    store = ContactStore()
    store.identify("t", body("a@example.com"))
    store.identify("t", body("b@example.com"))
    with pytest.raises(Rejection) as caught:
        store.identify("t", body("a@example.com", new_email="b@example.com"))
    assert caught.value.status == 422
    assert store.get("t", "a@example.com") is not None


def test_track_adds_then_removes_tags_and_refuses_an_unknown_contact_with_404() -> None:
    store = ContactStore()
    store.identify("t", body(tags=["trial user", "Tech"]))
    store.track("t", TrackBody("a@example.com", ["paid user"], ["trial user"]))
    assert stored(store, "t", "a@example.com")["tags"] == ["Tech", "paid user"]
    with pytest.raises(Rejection) as caught:
        store.track("t", TrackBody("nobody@example.com", ["x"], []))
    assert caught.value.status == 404


def test_each_team_keeps_its_own_contacts() -> None:
    store = ContactStore()
    store.identify("t1", body(properties={"firstName": "One"}))
    assert store.get("t2", "a@example.com") is None
    store.identify("t2", body(properties={"firstName": "Two"}))
    assert stored(store, "t1", "a@example.com")["firstName"] == "One"


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("john@example.com", True),
        ("john.doe+tag@mail.example.co.uk", True),
        ("john@example", False),
        ("john@@example.com", False),
        ("@example.com", False),
        ("john example@example.com", False),
        ("", False),
        ("a" * 250 + "@example.com", False),
    ],
)
def test_an_email_address_is_valid_only_as_local_at_domain_dot_tld(address: str, valid: bool) -> None:
    assert is_valid_email(address) is valid


def test_a_bad_identify_body_is_refused_naming_every_bad_field() -> None:
    with pytest.raises(Rejection) as caught:
        parse_identify({"email": "nope", "firstName": 3, "tags": "Tech", "colour": "red"}, "v1")
    message = caught.value.message
    assert caught.value.status == 422
    for field in ("email", "firstName", "tags", "colour"):
        assert field in message
