"""The example project's signups (examples/django_signup), tested with sendx-worker's fixtures."""

import pytest
from django.test import Client


@pytest.fixture
def client(django_project):
    return Client()


def test_a_signup_sends_the_new_user_to_sendx(client, sendx_recorder):
    response = client.post("/signup", {"email": "ada@example.com", "first_name": "Ada", "plan": "pro"})
    assert response.status_code == 201
    sendx_recorder.assert_identified("ada@example.com", first_name="Ada", tags=["Signed up"])


def test_a_signup_that_rolls_back_sends_nothing(client, sendx_recorder):
    response = client.post("/signup", {"email": "bob@example.com", "first_name": "Bob", "plan": "platinum"})
    assert response.status_code == 400
    sendx_recorder.assert_nothing_sent()


def test_sendx_holds_the_new_user_once_delivered(client, sendx_worker, sendx_emulator):
    client.post("/signup", {"email": "cy@example.com", "first_name": "Cy", "plan": "free"})
    sendx_worker.drain()
    contact = sendx_emulator.contact("cy@example.com")
    assert (contact["firstName"], contact["tags"]) == ("Cy", ["Signed up"])


def test_a_signup_sendx_rejects_ends_as_a_dead_letter(client, sendx_worker, sendx_emulator):
    sendx_emulator.fail_next(1, status=422)
    client.post("/signup", {"email": "dee@example.com", "first_name": "Dee", "plan": "free"})
    sendx_worker.drain()
    sendx_worker.assert_dead_lettered("dee@example.com", "rejected", status=422)
