"""The example Flask app (examples/flask_app.py), tested with sendx-worker's fixtures."""

import pytest

from examples.flask_app import create_app


@pytest.fixture
def client():
    return create_app().test_client()


def test_a_signup_is_enqueued_for_sendx(client, sendx_recorder):
    response = client.post("/signup", json={"email": "ada@example.com", "first_name": "Ada"})
    assert response.status_code == 202
    call = sendx_recorder.assert_identified("ada@example.com", first_name="Ada", tags=["Signed up"])
    assert response.get_json() == {"task_id": call.task_id}


def test_bad_input_is_a_400_naming_the_field_and_nothing_is_sent(client, sendx_recorder):
    response = client.post("/signup", json={"email": "not-an-address"})
    assert response.status_code == 400
    assert "email" in response.get_json()["errors"]
    sendx_recorder.assert_nothing_sent()


def test_an_upgrade_swaps_trial_user_for_paid_user(client, sendx_recorder, sendx_worker, sendx_emulator):
    client.post("/signup", json={"email": "bob@example.com", "first_name": "Bob"})
    client.post("/upgrade", json={"email": "bob@example.com"})
    sendx_recorder.assert_tracked("bob@example.com", added=["paid user"], removed=["trial user"])
    sendx_worker.drain()
    assert sendx_emulator.contact("bob@example.com")["tags"] == ["Signed up", "paid user"]


def test_sendx_down_for_a_moment_delays_nothing_but_the_delivery(client, sendx_worker, sendx_emulator):
    sendx_emulator.fail_next(3, status=503)
    client.post("/signup", json={"email": "cy@example.com", "first_name": "Cy"})
    sendx_worker.drain()
    assert [entry["status"] for entry in sendx_emulator.requests] == [503, 503, 503, 200]
    sendx_worker.assert_no_dead_letters()
