"""Every contact's updates land in order, and once: the issue's reproductions on every broker."""

from __future__ import annotations

from sendx_worker.stamps import format_stamp, stamp_now
from tests.delivery.conftest import Stack
from tests.support.die_after_record_hook import DIES_AFTER_RECORD_EMAIL
from tests.support.waiting import wait_for

# Stamps an hour ago, one microsecond apart: in the past, as every real stamp is by the
# time a worker sees it (a stamp ahead of the worker's clock would be replaced).
EARLIER = format_stamp(stamp_now() - 3_600_000_000)
LATER = format_stamp(stamp_now() - 3_600_000_000 + 1)


def _tags_sent(stack: Stack, email: str) -> list[tuple[list[str], list[str]]]:
    sent = []
    for request in stack.api_requests(email):
        body = request.get("body") or {}
        sent.append((body.get("addTags", []), body.get("removeTags", [])))
    return sent


def test_a_retried_track_cannot_put_a_paid_user_back_into_the_trial(stack: Stack) -> None:
    email = "y@example.com"
    stack.start_worker()
    stack.identify({"email": email})
    stack.wait_contact(email)
    # The first track's first attempt meets a 503 and is retried after the second succeeded.
    stack.emulator.set_faults(script={email: [503]})
    stack.track({"email": email, "addTags": ["trial user"]}, occurred_at=EARLIER)
    wait_for(lambda: any(r["status"] == 503 for r in stack.api_requests(email)), what="the first track's 503")
    stack.track(
        {"email": email, "addTags": ["paid user"], "removeTags": ["trial user"]},
        occurred_at=LATER,
    )
    stack.wait_contact(email, tags=["paid user"])
    wait_for(lambda: stack.workers[0].saw("superseded"), timeout=60, what="the retry found superseded")
    contact = stack.emulator.contact(email)
    assert contact is not None and contact["tags"] == ["paid user"]
    # Nothing added "trial user" after the upgrade: the retry sent nothing at all.
    sent = _tags_sent(stack, email)
    upgrade = sent.index((["paid user"], ["trial user"]))
    assert all("trial user" not in added for added, _ in sent[upgrade:])
    assert stack.dead_letters() == []


def test_a_retried_identify_cannot_overwrite_a_newer_plan(stack: Stack) -> None:
    email = "plan@example.com"
    stack.start_worker()
    stack.emulator.set_faults(script={email: [503]})
    stack.identify({"email": email, "customFields": {"Plan": "trial"}}, occurred_at=EARLIER)
    wait_for(lambda: any(r["status"] == 503 for r in stack.api_requests(email)), what="the first identify's 503")
    stack.identify({"email": email, "customFields": {"Plan": "paid"}}, occurred_at=LATER)
    stack.wait_contact(email, customFields={"Plan": "paid"})
    wait_for(lambda: stack.workers[0].saw("superseded"), timeout=60, what="the retry found superseded")
    contact = stack.emulator.contact(email)
    assert contact is not None and contact["customFields"] == {"Plan": "paid"}


def test_an_older_event_sent_late_keeps_only_what_nothing_newer_replaced(stack: Stack) -> None:
    email = "late@example.com"
    stack.start_worker()
    stack.identify({"email": email, "firstName": "New", "tags": ["paid user"]}, occurred_at=LATER)
    stack.wait_contact(email, firstName="New")
    stack.identify(
        {"email": email, "firstName": "Old", "company": "Acme", "customFields": {"Logins": "++1"}},
        occurred_at=EARLIER,
    )
    stack.wait_contact(email, company="Acme")
    late = stack.api_requests(email)[-1]["body"]
    assert late == {"email": email, "company": "Acme", "customFields": {"Logins": "++1"}}
    assert stack.emulator.contact(email)["firstName"] == "New"  # type: ignore[index]


def test_a_redelivery_after_a_successful_call_sends_nothing(stack: Stack) -> None:
    hook = ("-I", "tests.support.die_after_record_hook")
    first = stack.start_worker(concurrency=2, wait_ready=False, extra_args=hook)
    stack.identify({"email": DIES_AFTER_RECORD_EMAIL, "tags": ["Signup"], "customFields": {"Logins": "++1"}})
    wait_for(first.exited, timeout=90, what="the worker to die after recording its call")
    second = stack.start_worker(concurrency=2, extra_args=hook)
    wait_for(lambda: second.saw("duplicate"), timeout=120, what="the redelivery to be found a duplicate")
    assert len(stack.api_requests(DIES_AFTER_RECORD_EMAIL)) == 1
    stack.wait_contact(DIES_AFTER_RECORD_EMAIL, customFields={"Logins": "1"})
    assert stack.dead_letters() == []
