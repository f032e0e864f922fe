"""sendx_recorder: what a user's test sees, passing and failing (pytester), and its model of SendX."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sendx_worker.stamps import format_stamp, stamp_from_datetime
from sendx_worker.testing import Recorder, in_event_order
from tests.testing_kit.conftest import INNER_ARGS, failures, outcomes, squash

USER_TESTS = """
import threading

import pytest
from marshmallow import ValidationError

from sendx_worker import identify, track


def signup(email, name, tags=("Developer",)):
    identify(email, first_name=name, tags=list(tags))


def test_passes_when_the_fields_were_sent(sendx_recorder):
    signup("ada@example.com", "Ada")
    call = sendx_recorder.assert_identified("ada@example.com", first_name="Ada", tags=["Developer"])
    assert call.payload == {"email": "ada@example.com", "firstName": "Ada", "tags": ["Developer"]}
    assert [c.operation for c in sendx_recorder.calls] == ["identify"]


def test_fails_on_other_tags(sendx_recorder):
    signup("ada@example.com", "Ada", tags=["Signed up"])
    sendx_recorder.assert_identified("ada@example.com", first_name="Ada", tags=["Developer"])


def test_fails_on_another_email(sendx_recorder):
    signup("bob@example.com", "Bob")
    sendx_recorder.assert_identified("ada@example.com")


def test_fails_when_nothing_was_sent(sendx_recorder):
    sendx_recorder.assert_identified("ada@example.com", first_name="Ada")


def test_fails_on_a_field_identify_does_not_have(sendx_recorder):
    signup("ada@example.com", "Ada")
    sendx_recorder.assert_identified("ada@example.com", frist_name="Ada")


def test_tracked_passes(sendx_recorder):
    track("ada@example.com", add_tags=["paid user"], remove_tags=["trial user"])
    sendx_recorder.assert_tracked("ada@example.com", removed=["trial user"])
    sendx_recorder.assert_tracked("ada@example.com", added=["paid user"], removed=["trial user"])


def test_tracked_fails_on_what_was_removed(sendx_recorder):
    track("ada@example.com", add_tags=["paid user"], remove_tags=["trial"])
    sendx_recorder.assert_tracked("ada@example.com", removed=["trial user"])


def test_tracked_fails_when_only_identified(sendx_recorder):
    signup("ada@example.com", "Ada")
    sendx_recorder.assert_tracked("ada@example.com", added=["paid user"])


def test_nothing_sent_passes(sendx_recorder):
    sendx_recorder.assert_nothing_sent()


def test_nothing_sent_fails(sendx_recorder):
    signup("ada@example.com", "Ada")
    track("ada@example.com", add_tags=["paid user"])
    sendx_recorder.assert_nothing_sent()


def test_invalid_input_raises_as_in_production_and_records_nothing(sendx_recorder):
    with pytest.raises(ValidationError) as caught:
        identify("not-an-address", first_name="Ann")
    assert "email" in caught.value.messages
    sendx_recorder.assert_nothing_sent()


def test_calls_from_other_threads_are_recorded(sendx_recorder):
    thread = threading.Thread(target=signup, args=("ada@example.com", "Ada"))
    thread.start()
    thread.join()
    sendx_recorder.assert_identified("ada@example.com", first_name="Ada")


def test_contact_is_what_sendx_would_hold(sendx_recorder):
    identify("ada@example.com", first_name="Ada", tags=["trial user"], custom_fields={"Logins": "++1", "Plan": "free"})
    identify("ada@example.com", last_name="Lovelace", custom_fields={"Logins": "++2"})
    track("ada@example.com", add_tags=["paid user"], remove_tags=["trial user"])
    identify("ada@example.com", custom_fields={"Plan": "pro"})
    contact = sendx_recorder.contact("ada@example.com")
    assert contact["firstName"] == "Ada" and contact["lastName"] == "Lovelace"
    assert contact["tags"] == ["paid user"]
    assert contact["customFields"] == {"Logins": "3", "Plan": "pro"}
    assert sendx_recorder.contact("nobody@example.com") is None
"""


@pytest.fixture
def user_run(pytester: pytest.Pytester) -> object:
    pytester.makepyfile(test_user=USER_TESTS)
    return pytester.inline_run(*INNER_ARGS)


def test_each_assertion_passes_when_it_should(user_run: object) -> None:
    passing = [
        "test_passes_when_the_fields_were_sent",
        "test_tracked_passes",
        "test_nothing_sent_passes",
        "test_invalid_input_raises_as_in_production_and_records_nothing",
        "test_calls_from_other_threads_are_recorded",
        "test_contact_is_what_sendx_would_hold",
    ]
    found = outcomes(user_run)
    assert {name: found.get(name) for name in passing} == dict.fromkeys(passing, "passed")


def test_each_assertion_fails_with_a_message_saying_what_was_sent(user_run: object) -> None:
    text = {name: squash(message) for name, message in failures(user_run).items()}
    assert set(text) == {
        "test_fails_on_other_tags",
        "test_fails_on_another_email",
        "test_fails_when_nothing_was_sent",
        "test_fails_on_a_field_identify_does_not_have",
        "test_tracked_fails_on_what_was_removed",
        "test_tracked_fails_when_only_identified",
        "test_nothing_sent_fails",
    }
    assert (
        "AssertionError: expected identify('ada@example.com', first_name='Ada', tags=['Developer']); "
        "identify() calls for 'ada@example.com': identify('ada@example.com', first_name='Ada', tags=['Signed up']) "
        "differs: tags sent ['Signed up'], expected ['Developer']"
    ) in text["test_fails_on_other_tags"]
    assert (
        "expected identify('ada@example.com'); no identify() for 'ada@example.com' at all; the calls made: "
        "identify('bob@example.com', first_name='Bob', tags=['Developer'])"
    ) in text["test_fails_on_another_email"]
    assert "no identify()/track() call was made" in text["test_fails_when_nothing_was_sent"]
    assert (
        "TypeError: assert_identified() has no field 'frist_name'; fields: new_email, first_name"
        in (text["test_fails_on_a_field_identify_does_not_have"])
    )
    assert (
        "expected track('ada@example.com', removed=['trial user']); track() calls for 'ada@example.com': "
        "track('ada@example.com', add_tags=['paid user'], remove_tags=['trial']) "
        "differs: removed sent ['trial'], expected ['trial user']"
    ) in text["test_tracked_fails_on_what_was_removed"]
    assert (
        "no track() for 'ada@example.com' at all; the calls made: identify('ada@example.com'"
        in (text["test_tracked_fails_when_only_identified"])
    )
    assert (
        "expected no identify()/track() calls, but 2 were made: "
        "identify('ada@example.com', first_name='Ada', tags=['Developer']) "
        "track('ada@example.com', add_tags=['paid user'])"
    ) in text["test_nothing_sent_fails"]


def test_nothing_reaches_a_broker_or_the_disk(
    sendx_recorder: Recorder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sendx_worker import identify

    # A broker nobody listens on: production would retry for ~10 s, then raise PublishError.
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:1//")
    monkeypatch.chdir(tmp_path)
    result = identify("ada@example.com", first_name="Ada")
    assert result.id == sendx_recorder.calls[0].task_id
    assert list(tmp_path.iterdir()) == []  # not even the embedded broker's folder


def test_the_flavor_is_productions_so_rest_refuses_a_birthday(
    sendx_recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from marshmallow import ValidationError

    from sendx_worker import celery_app, identify

    # A fresh default app, as a new web process has: an earlier test may have configured
    # this process's one already, and an app reads its settings once.
    monkeypatch.setattr(celery_app, "app", celery_app.create_app())
    monkeypatch.setenv("SENDX_API_FLAVOR", "rest")
    with pytest.raises(ValidationError, match="REST API has no birthday"):
        identify("ada@example.com", birthday="1815-12-10")
    identify("ada@example.com", first_name="Ada")
    assert sendx_recorder.calls[0].flavor == "rest"


def _record(recorder: Recorder, task: str, payload: dict[str, object], occurred_at: datetime | None) -> None:
    kwargs: dict[str, object] = {"payload": payload}
    if occurred_at is not None:
        kwargs["occurred_at"] = format_stamp(stamp_from_datetime(occurred_at))
    recorder.publish(None, task, kwargs, {})  # type: ignore[arg-type]


def test_events_apply_in_the_order_they_happened_not_the_order_they_were_sent() -> None:
    # What identify(..., occurred_at=...) puts in the task kwargs (sendx_worker.stamps).
    recorder = Recorder()
    recorder.flavor = lambda app: "v1"  # type: ignore[method-assign]
    noon, one = datetime(2026, 11, 28, 12, tzinfo=UTC), datetime(2026, 11, 28, 13, tzinfo=UTC)
    _record(recorder, "sendx.identify_contact", {"email": "ada@example.com", "firstName": "Ada"}, noon)
    _record(recorder, "sendx.track_tags", {"email": "ada@example.com", "addTags": ["paid user"]}, one)
    # Sent last, happened first: the upgrade's removal of "trial user" comes after it.
    _record(
        recorder,
        "sendx.identify_contact",
        {"email": "ada@example.com", "firstName": "A", "tags": ["trial user"]},
        noon.replace(hour=11),
    )
    _record(recorder, "sendx.track_tags", {"email": "ada@example.com", "removeTags": ["trial user"]}, one)
    assert [call.sequence for call in in_event_order(recorder.calls)] == [2, 0, 1, 3]
    contact = recorder.contact("ada@example.com")
    assert contact is not None
    assert (contact["firstName"], contact["tags"]) == ("Ada", ["paid user"])


def test_without_stamps_events_apply_in_call_order() -> None:
    recorder = Recorder()
    recorder.flavor = lambda app: "v1"  # type: ignore[method-assign]
    _record(recorder, "sendx.identify_contact", {"email": "ada@example.com", "firstName": "Ada"}, None)
    _record(recorder, "sendx.identify_contact", {"email": "ada@example.com", "firstName": "Ann"}, None)
    assert recorder.contact("ada@example.com")["firstName"] == "Ann"  # type: ignore[index]


def test_calls_sendx_would_refuse_change_nothing() -> None:
    recorder = Recorder()
    recorder.flavor = lambda app: "v1"  # type: ignore[method-assign]
    _record(recorder, "sendx.track_tags", {"email": "ada@example.com", "addTags": ["early"]}, None)  # 404
    _record(recorder, "sendx.identify_contact", {"email": "ada@example.com", "customFields": {"Plan": "pro"}}, None)
    _record(recorder, "sendx.identify_contact", {"email": "ada@example.com", "customFields": {"Plan": "++1"}}, None)
    contact = recorder.contact("ada@example.com")
    assert contact is not None
    assert (contact["tags"], contact["customFields"]) == ([], {"Plan": "pro"})
