"""sendx_worker: real deliveries in the test process, drain(), dead letters; and how each fails."""

from __future__ import annotations

import pytest
from celery import Celery

from sendx_worker import identify, track
from sendx_worker.testing import EmulatorControls, Recorder, ThreadWorker
from tests.testing_kit.conftest import INNER_ARGS, failures, outcomes, squash


def test_a_signup_and_an_upgrade_reach_sendx(sendx_worker: ThreadWorker, sendx_emulator: EmulatorControls) -> None:
    identify("ada@example.com", first_name="Ada", tags=["trial user"], custom_fields={"Logins": "++1"})
    track("ada@example.com", add_tags=["paid user"], remove_tags=["trial user"])
    sendx_worker.drain()
    contact = sendx_emulator.contact("ada@example.com")
    assert contact is not None
    assert (contact["firstName"], contact["tags"], contact["customFields"]) == ("Ada", ["paid user"], {"Logins": "1"})
    sendx_worker.assert_no_dead_letters()


def test_with_the_recorder_too_calls_are_both_recorded_and_delivered(
    sendx_recorder: Recorder, sendx_worker: ThreadWorker, sendx_emulator: EmulatorControls
) -> None:
    identify("ada@example.com", first_name="Ada", tags=["Developer"])
    sendx_recorder.assert_identified("ada@example.com", first_name="Ada", tags=["Developer"])
    sendx_worker.drain()
    assert _fields(sendx_emulator.contact("ada@example.com")) == _fields(sendx_recorder.contact("ada@example.com"))


def test_transient_failures_are_retried_at_once_and_delivered(
    sendx_worker: ThreadWorker, sendx_emulator: EmulatorControls
) -> None:
    sendx_emulator.fail_next(2, status=503)
    sendx_emulator.fail_next(1, status=429, retry_after=60)  # Retry-After is bounded by the test policy
    identify("ada@example.com", first_name="Ada")
    sendx_worker.drain()
    assert [entry["status"] for entry in sendx_emulator.requests] == [503, 503, 429, 200]
    sendx_worker.assert_no_dead_letters()


def test_a_rejected_update_is_dead_lettered_with_its_evidence(
    sendx_worker: ThreadWorker, sendx_emulator: EmulatorControls
) -> None:
    sendx_emulator.fail_next(1, status=422)
    identify("ada@example.com", first_name="Ada")
    sendx_worker.drain()
    record = sendx_worker.assert_dead_lettered("ada@example.com", "rejected", status=422)
    assert record.payload == {"email": "ada@example.com", "firstName": "Ada"}
    assert len(sendx_worker.dead_letters) == 1  # reading them leaves them in place


@pytest.mark.sendx_worker(retry_window_s=0.3)
def test_sendx_down_for_good_ends_as_retries_exhausted(
    sendx_worker: ThreadWorker, sendx_emulator: EmulatorControls
) -> None:
    sendx_emulator.outage()
    identify("ada@example.com", first_name="Ada")
    sendx_worker.drain()
    record = sendx_worker.assert_dead_lettered("ada@example.com", "retries_exhausted")
    assert record.attempts > 1


@pytest.mark.sendx_worker(timeout_s=0.5)
def test_a_timed_out_increment_is_set_aside_and_the_rest_delivered(
    sendx_worker: ThreadWorker, sendx_emulator: EmulatorControls
) -> None:
    sendx_emulator.timeout_next()
    identify("ada@example.com", first_name="Ada", custom_fields={"Logins": "++1"})
    sendx_worker.drain()
    sendx_worker.assert_dead_lettered("ada@example.com", "ambiguous_increment")
    assert sendx_emulator.contact("ada@example.com")["customFields"] == {}  # type: ignore[index]


def test_the_apps_own_celery_app_sending_by_name(sendx_worker: ThreadWorker, sendx_emulator: EmulatorControls) -> None:
    shop = sendx_worker.attach(Celery("shop", set_as_current=False))
    try:
        shop.send_task(
            "sendx.identify_contact",
            kwargs={"payload": {"email": "ada@example.com", "firstName": "Ada"}},
            exchange="sendx",
            routing_key="sendx",
        )
        sendx_worker.drain()
    finally:
        shop.close()
    assert sendx_emulator.contact("ada@example.com")["firstName"] == "Ada"  # type: ignore[index]


def test_identify_naming_an_app_still_goes_to_the_worker(
    sendx_worker: ThreadWorker, sendx_emulator: EmulatorControls
) -> None:
    from sendx_worker.celery_app import create_app
    from sendx_worker.settings import load_settings

    elsewhere = create_app(load_settings({"CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:1//"}))
    identify("ada@example.com", first_name="Ada", app=elsewhere)
    sendx_worker.drain()
    assert sendx_emulator.contact("ada@example.com") is not None


@pytest.mark.sendx_worker(broker="filesystem", flavor="rest", teams=("eu",))
def test_the_embedded_broker_the_rest_flavor_and_more_teams(
    sendx_worker: ThreadWorker, sendx_emulator: EmulatorControls
) -> None:
    identify("ada@example.com", first_name="Ada")
    identify("eva@example.com", first_name="Eva", team="eu")
    track("eva@example.com", add_tags=["EU"], team="eu")
    sendx_worker.drain()
    assert sendx_emulator.contact("ada@example.com")["firstName"] == "Ada"  # type: ignore[index]
    assert sendx_emulator.emulator.contact("eva@example.com", "eu")["tags"] == ["EU"]  # type: ignore[index]
    assert {entry["path"] for entry in sendx_emulator.requests} == {
        "/api/v1/rest/contact/identify",
        "/api/v1/rest/contact/track",
    }
    assert (sendx_worker.settings.data_dir / "broker").is_dir()


USER_TESTS = """
import pytest

from sendx_worker import identify
from sendx_worker.client import SendxClient


def test_a_task_error_is_raised_by_drain(sendx_worker, monkeypatch):
    def broken(self, payload):
        raise RuntimeError("boom: a bug in the delivery code")

    monkeypatch.setattr(SendxClient, "identify", broken)
    identify("ada@example.com", first_name="Ada")
    sendx_worker.drain()


def test_drain_says_what_is_still_pending(sendx_worker, sendx_emulator):
    sendx_emulator.emulator.set_teams({"another-team": "another-key"})  # every call now 401
    identify("ada@example.com", first_name="Ada")
    sendx_worker.drain(timeout=0.5)


def test_assert_dead_lettered_fails_when_it_was_delivered(sendx_worker):
    identify("ada@example.com", first_name="Ada")
    sendx_worker.drain()
    sendx_worker.assert_dead_lettered("ada@example.com", "rejected")


def test_assert_dead_lettered_fails_on_another_reason(sendx_worker, sendx_emulator):
    sendx_emulator.fail_next(1, status=400)
    identify("ada@example.com", first_name="Ada")
    sendx_worker.drain()
    sendx_worker.assert_dead_lettered("ada@example.com", "retries_exhausted")


def test_assert_no_dead_letters_fails(sendx_worker, sendx_emulator):
    sendx_emulator.fail_next(1, status=422)
    identify("ada@example.com", first_name="Ada")
    sendx_worker.drain()
    sendx_worker.assert_no_dead_letters()


@pytest.mark.sendx_worker(env={"SENDX_API_KEY": ""})
def test_a_worker_without_credentials_does_not_start(sendx_worker):
    pass


@pytest.mark.sendx_worker(broker="rabbitmq")
def test_an_unknown_broker_is_refused(sendx_worker):
    pass


def test_leaves_a_message_behind(sendx_worker, sendx_emulator):
    sendx_emulator.outage()
    identify("left@example.com", first_name="Left")


def test_the_next_worker_never_sees_it(sendx_worker, sendx_emulator):
    identify("ada@example.com", first_name="Ada")
    sendx_worker.drain()
    assert sorted(sendx_emulator.contacts) == ["ada@example.com"]
"""


def run_user_tests(pytester: pytest.Pytester, *names: str) -> object:
    """Run the named tests of USER_TESTS in a pytest of their own."""
    pytester.makepyfile(test_user=USER_TESTS)
    return pytester.inline_run(*INNER_ARGS, "-k", " or ".join(names))


def test_a_message_left_behind_by_one_test_never_reaches_the_next(pytester: pytest.Pytester) -> None:
    found = outcomes(run_user_tests(pytester, "test_leaves_a_message_behind", "test_the_next_worker_never_sees_it"))
    assert (found["test_leaves_a_message_behind"], found["test_the_next_worker_never_sees_it"]) == ("passed", "passed")


def test_drain_re_raises_an_error_from_a_task_in_the_test(pytester: pytest.Pytester) -> None:
    run = run_user_tests(pytester, "test_a_task_error_is_raised_by_drain")
    text = squash(failures(run)["test_a_task_error_is_raised_by_drain"])
    assert "RuntimeError: boom: a bug in the delivery code" in text
    assert "sendx_worker fixture: raised in the worker thread: unexpected error (sendx.identify_contact, task" in text
    assert "def broken" in text and "sendx_worker/tasks/" in text  # the worker thread's traceback, kept


def test_drain_times_out_naming_each_pending_message_and_sendxs_last_answer(pytester: pytest.Pytester) -> None:
    run = run_user_tests(pytester, "test_drain_says_what_is_still_pending")
    text = squash(failures(run)["test_drain_says_what_is_still_pending"])
    assert (
        "DrainTimeout: drain(timeout=0.5): 1 message(s) still pending: sendx.identify_contact for a***@example.com"
        in (text)
    )
    assert "last SendX answer HTTP 401" in text


def test_dead_letter_assertions_fail_listing_the_dead_letters(pytester: pytest.Pytester) -> None:
    run = run_user_tests(pytester, "test_assert_dead_lettered_fails", "test_assert_no_dead_letters_fails")
    text = {name: squash(message) for name, message in failures(run).items()}
    assert (
        "AssertionError: expected a dead letter for 'ada@example.com' with reason='rejected'; the dead letters: (none)"
    ) in text["test_assert_dead_lettered_fails_when_it_was_delivered"]
    assert (
        "expected a dead letter for 'ada@example.com' with reason='retries_exhausted'; the dead letters: "
        "sendx.identify_contact for 'ada@example.com': rejected HTTP 400: SendX answered 400"
    ) in text["test_assert_dead_lettered_fails_on_another_reason"]
    assert (
        "AssertionError: expected no dead letters, found 1: sendx.identify_contact for 'ada@example.com': "
        "rejected HTTP 422"
    ) in text["test_assert_no_dead_letters_fails"]


def test_a_worker_that_cannot_start_fails_the_set_up_naming_the_cause(pytester: pytest.Pytester) -> None:
    run = run_user_tests(pytester, "does_not_start", "unknown_broker")
    text = {name: squash(message) for name, message in failures(run).items()}
    assert (
        "WorkerStartFailed: the sendx-worker did not start: error: SENDX_API_KEY: is not set"
        in (text["test_a_worker_without_credentials_does_not_start"])
    )
    assert (
        "ValueError: broker must be 'memory' or 'filesystem', not 'rabbitmq'"
        in (text["test_an_unknown_broker_is_refused"])
    )


def _fields(contact: dict[str, object] | None) -> dict[str, object]:
    """A contact without the opaque ids (the recorder's model makes its own)."""
    assert contact is not None
    return {name: value for name, value in contact.items() if not name.startswith("encrypted")}
