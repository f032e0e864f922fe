"""Retries, backoff and dead letters, on RabbitMQ, Redis and the embedded broker."""

from __future__ import annotations

from tests.delivery.conftest import API_KEY, TEAM_ID, Stack
from tests.support.waiting import wait_for


def test_two_503s_then_200_delivers_after_exactly_three_attempts(stack: Stack) -> None:
    stack.emulator.set_faults(script={"ann@example.com": [503, 503, 200]})
    stack.start_worker()
    stack.identify({"email": "ann@example.com", "firstName": "Ann"})
    stack.wait_contact("ann@example.com", firstName="Ann")
    attempts = stack.api_requests("ann@example.com")
    assert [r["status"] for r in attempts] == [503, 503, 200]
    assert stack.dead_letters() == []


def test_a_429_with_retry_after_waits_at_least_that_long(stack: Stack) -> None:
    stack.emulator.set_faults(script={"bo@example.com": [{"status": 429, "retry_after": 2}]})
    stack.start_worker(SENDX_RETRY_CAP_S="5")  # Retry-After is clamped to the cap
    stack.identify({"email": "bo@example.com", "tags": ["Trial"]})
    stack.wait_contact("bo@example.com", tags=["Trial"])
    first, second = stack.api_requests("bo@example.com")
    assert first["status"] == 429
    assert second["timestamp"] - first["timestamp"] >= 2.0


def test_a_422_is_dead_lettered_after_one_attempt_with_its_evidence(stack: Stack) -> None:
    stack.emulator.set_faults(script={"cy@example.com": [422]})
    stack.start_worker()
    task_id = stack.identify({"email": "cy@example.com", "company": "Acme"})
    (record,) = stack.wait_dead_letters(1)
    assert record.reason == "rejected"
    assert record.status == 422
    assert record.attempts == 1
    assert record.task == "sendx.identify_contact"
    assert record.task_id == task_id
    assert record.payload == {"email": "cy@example.com", "company": "Acme"}
    assert record.evidence["path"].endswith("/contact/identify")
    assert record.evidence["method"] == "POST"
    assert record.first_attempt_at and record.dead_lettered_at
    assert len(stack.api_requests("cy@example.com")) == 1
    assert API_KEY not in repr(record.to_dict())


def test_invalid_messages_sent_by_name_are_dead_lettered_and_the_worker_keeps_consuming(stack: Stack) -> None:
    worker = stack.start_worker()
    stack.identify({"email": "not-an-address"})
    stack.send("sendx.identify_contact", payload={"email": "dee@example.com"}, colour="blue")
    stack.send("sendx.track_tags", payload={"email": "dee@example.com", "addTags": []})
    stack.send("sendx.identify_contact")
    stack.send("sendx.no_such_task", payload={"email": "dee@example.com"})
    stack.identify({"email": "dee@example.com", "firstName": "Dee"})
    stack.wait_contact("dee@example.com", firstName="Dee")
    records = stack.wait_dead_letters(5)
    assert sorted(r.reason for r in records) == ["invalid_payload"] * 5
    errors = " | ".join(r.error for r in records)
    assert "email" in errors
    assert "colour" in errors
    assert "addTags" in errors
    assert "payload" in errors
    assert "sendx.no_such_task" in errors
    assert not worker.exited()


def test_rejected_credentials_keep_the_message_until_the_key_is_accepted(stack: Stack) -> None:
    stack.emulator.set_teams({TEAM_ID: "the-real-key"})
    worker = stack.start_worker()
    stack.identify({"email": "eve@example.com", "lastName": "Adams"})
    wait_for(lambda: len(stack.api_requests("eve@example.com")) >= 3, what="three rejected attempts")
    assert {r["status"] for r in stack.api_requests("eve@example.com")} == {401}
    assert worker.saw("SendX rejected the credentials")
    assert API_KEY not in worker.log()
    stack.emulator.set_teams({TEAM_ID: API_KEY})
    stack.wait_contact("eve@example.com", lastName="Adams")
    assert stack.dead_letters() == []


def test_an_ambiguous_increment_is_dead_lettered_alone_while_the_rest_is_delivered(stack: Stack) -> None:
    stack.emulator.set_faults(script={"fay@example.com": [500]})
    stack.start_worker()
    stack.identify({"email": "fay@example.com", "firstName": "Fay", "customFields": {"Logins": "++1", "Plan": "Pro"}})
    contact = stack.wait_contact("fay@example.com", firstName="Fay")
    assert contact["customFields"] == {"Plan": "Pro"}
    (record,) = stack.wait_dead_letters(1)
    assert record.reason == "ambiguous_increment"
    assert record.payload == {"email": "fay@example.com", "customFields": {"Logins": "++1"}}
    assert record.status == 500
    second = stack.api_requests("fay@example.com")[1]
    assert "Logins" not in second["body"].get("customFields", {})


def test_increments_are_resent_when_sendx_certainly_did_not_apply_them(stack: Stack) -> None:
    stack.emulator.set_faults(script={"gus@example.com": [503]})
    stack.start_worker()
    stack.identify({"email": "gus@example.com", "customFields": {"Logins": "++1"}})
    stack.wait_contact("gus@example.com", customFields={"Logins": "1"})
    assert stack.dead_letters() == []


def test_a_track_racing_its_identify_is_retried_until_the_contact_exists(stack: Stack) -> None:
    stack.start_worker()
    stack.track({"email": "hal@example.com", "addTags": ["Paid"]})
    wait_for(lambda: any(r["status"] == 404 for r in stack.api_requests("hal@example.com")), what="a 404")
    stack.identify({"email": "hal@example.com"})
    stack.wait_contact("hal@example.com", tags=["Paid"], timeout=90)
    assert stack.dead_letters() == []


def test_replay_delivers_a_dead_letter_and_removes_it(stack: Stack) -> None:
    from sendx_worker.deadletter import DeadLetterQueue
    from sendx_worker.deadletter.replay import replay

    stack.emulator.set_faults(script={"ivy@example.com": [422]})
    stack.start_worker()
    stack.identify({"email": "ivy@example.com", "firstName": "Ivy"})
    (record,) = stack.wait_dead_letters(1)
    queue = DeadLetterQueue(stack.app.connection_for_write)
    done = queue.take(lambda r: r.id == record.id, lambda r: replay(stack.app, r))
    assert [r.id for r in done] == [record.id]
    stack.wait_contact("ivy@example.com", firstName="Ivy")
    assert stack.dead_letters() == []
