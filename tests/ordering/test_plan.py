"""The ordering rules as pure functions: what of an event to send, given what was applied."""

from __future__ import annotations

from sendx_worker.ordering.plan import Event, after_maybe_applied, after_success, plan
from sendx_worker.state import ContactState, Move


def identify(stamp: int, **payload: object) -> Event:
    return Event(id=f"e{stamp}", operation="identify", stamp=stamp, payload={"email": "a@x.io", **payload})


def track(stamp: int, **payload: object) -> Event:
    return Event(id=f"e{stamp}", operation="track", stamp=stamp, payload={"email": "a@x.io", **payload})


def test_an_event_on_a_fresh_contact_is_sent_whole() -> None:
    event = identify(10, firstName="Ada", customFields={"Plan": "trial", "Logins": "++1"}, tags=["Dev"])
    decided = plan(event, ContactState())
    assert decided.verdict == "send"
    assert decided.payload == dict(event.payload)
    assert decided.fields == ("firstName", "c:Plan")
    assert decided.tags == ("Dev",)
    assert decided.increments == {"Logins": "++1"}


def test_a_field_a_newer_event_set_is_dropped_and_the_rest_sent() -> None:
    state = ContactState(fields={"c:Plan": 20, "firstName": 5})
    decided = plan(identify(10, firstName="Ada", customFields={"Plan": "trial", "Logins": "++1"}), state)
    assert decided.verdict == "send"
    assert decided.payload == {"email": "a@x.io", "firstName": "Ada", "customFields": {"Logins": "++1"}}
    assert decided.superseded == 1


def test_an_equal_stamp_is_not_newer() -> None:
    decided = plan(identify(10, firstName="Ada"), ContactState(fields={"firstName": 10}))
    assert decided.verdict == "send"


def test_an_event_whose_every_part_was_replaced_is_superseded() -> None:
    state = ContactState(fields={"c:Plan": 20}, tags={"trial user": 20}, known=True)
    assert plan(identify(10, customFields={"Plan": "trial"}, tags=["trial user"]), state).verdict == "superseded"
    assert plan(track(10, addTags=["trial user"]), state).verdict == "superseded"


def test_a_superseded_identify_still_creates_a_contact_sendx_may_not_hold() -> None:
    # The newer stamp came from a call that failed: the contact may not exist yet.
    state = ContactState(tags={"trial user": 20}, known=False)
    decided = plan(identify(10, tags=["trial user"]), state)
    assert decided.verdict == "send" and decided.payload == {"email": "a@x.io"}


def test_a_tag_is_last_writer_wins_between_add_and_remove() -> None:
    state = ContactState(tags={"trial user": 20, "paid user": 20})
    decided = plan(track(10, addTags=["trial user", "new"], removeTags=["paid user"]), state)
    assert decided.payload == {"email": "a@x.io", "addTags": ["new"]}
    assert decided.tags == ("new",)


def test_a_bare_identify_is_sent_even_on_a_known_contact() -> None:
    assert plan(identify(10), ContactState(fields={"firstName": 20})).verdict == "send"


def test_a_done_event_is_a_duplicate() -> None:
    assert plan(identify(10, firstName="A"), ContactState(done={"e10": 1})).verdict == "duplicate"


def test_an_event_older_than_a_move_follows_the_contact_to_its_new_address() -> None:
    state = ContactState(moved=Move(to="b@x.io", at=20))
    decided = plan(track(10, addTags=["x"]), state)
    assert decided.verdict == "redirect" and decided.to == "b@x.io"
    # Newer than the move: a new contact at the old address, as SendX would make.
    assert plan(track(30, addTags=["x"]), state).verdict == "send"


def test_a_move_older_than_applied_events_of_its_address_is_a_conflict() -> None:
    late_move = identify(10, newEmail="b@x.io")
    assert plan(late_move, ContactState(fields={"firstName": 20})).verdict == "conflict"
    assert plan(late_move, ContactState(moved=Move(to="c@x.io", at=20))).verdict == "conflict"
    assert plan(late_move, ContactState(fields={"firstName": 5})).verdict == "send"


def test_success_records_the_stamps_sent_and_marks_the_event_done() -> None:
    event = identify(10, firstName="Ada", customFields={"Plan": "trial"}, tags=["Dev"])
    state = ContactState(fields={"c:Plan": 20})
    decided = plan(event, state)
    after = after_success(state, event, decided, now_s=1000)
    assert after.fields == {"firstName": 10, "c:Plan": 20}
    assert after.tags == {"Dev": 10}
    assert after.done == {"e10": 1000}


def test_a_failure_that_may_have_reached_sendx_records_its_stamps_but_not_done() -> None:
    event = identify(10, firstName="Ada")
    decided = plan(event, ContactState())
    maybe = after_maybe_applied(ContactState(), event, decided, may_have_reached=True)
    assert maybe.fields == {"firstName": 10} and maybe.done == {}
    assert after_maybe_applied(ContactState(), event, decided, may_have_reached=False).fields == {}
    # The retry of the same event still goes through.
    assert plan(event, maybe).verdict == "send"
