"""The Flask recipe (docs/recipes/flask.md): Flask's test client, a real broker, a real worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery import Celery

from sendx_worker import celery_app
from sendx_worker.celery_app import create_app
from tests.delivery.conftest import Stack
from tests.observability.conftest import (
    REPO,
    assert_doc_quotes_examples,
    declare_topology,
    drain,
    free_port,
    queue_depth,
)
from tests.support.waiting import wait_for

flask = pytest.importorskip("flask")

DOC = REPO / "docs" / "recipes" / "flask.md"


@pytest.fixture
def client(default_app: Celery) -> Iterator[flask.testing.FlaskClient]:
    from examples.flask_app import create_app as create_flask_app

    yield create_flask_app().test_client()


def test_a_signup_is_delivered_to_sendx_by_a_worker(client: flask.testing.FlaskClient, stack: Stack) -> None:
    worker = stack.start_worker()
    answer = client.post("/signup", json={"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"})
    assert answer.status_code == 202
    task_id = answer.get_json()["task_id"]
    stack.wait_contact("ann@example.com", firstName="Ann", lastName="Lee", tags=["Signed up"])

    assert client.post("/upgrade", json={"email": "ann@example.com"}).status_code == 202
    wait_for(
        lambda: set((stack.emulator.contact("ann@example.com") or {}).get("tags", [])) == {"Signed up", "paid user"},
        timeout=60,
        what="the upgrade's tags",
    )
    # The task id the view returned is the one the worker delivered (our log line, by task id).
    wait_for(lambda: worker.saw(f"delivered task=sendx.identify_contact task_id={task_id} "), what="delivered")
    assert [r["status"] for r in stack.api_requests("ann@example.com")] == [200, 200]


def test_invalid_input_is_a_400_naming_each_field_and_enqueues_nothing(
    client: flask.testing.FlaskClient, stack: Stack
) -> None:
    declare_topology(stack.broker.url)
    answer = client.post("/signup", json={"email": "not-an-address", "first_name": "x" * 300})
    assert answer.status_code == 400
    assert answer.get_json() == {
        "errors": {"email": ["Not a valid email address."], "first_name": ["Longer than maximum length 255."]}
    }
    missing = client.post("/upgrade", json={})
    assert missing.status_code == 400
    assert set(missing.get_json()["errors"]) == {"email"}
    assert queue_depth(stack.broker.url) == 0

    assert client.post("/upgrade", json={"email": "bo@example.com"}).status_code == 202
    (message,) = drain(stack.broker.url)
    kwargs = message.decode()[1]
    assert kwargs["payload"] == {"email": "bo@example.com", "addTags": ["paid user"], "removeTags": ["trial user"]}
    assert set(kwargs) == {"payload", "occurred_at"}


def test_an_unreachable_broker_is_a_503(monkeypatch: pytest.MonkeyPatch) -> None:
    from examples.flask_app import create_app as create_flask_app

    # Nothing listens there: every publish attempt is refused, through all the retries.
    monkeypatch.setenv("CELERY_BROKER_URL", f"amqp://guest:guest@127.0.0.1:{free_port()}//")
    unreachable = create_app()
    monkeypatch.setattr(celery_app, "app", unreachable)
    try:
        answer = create_flask_app().test_client().post("/signup", json={"email": "cy@example.com"})
    finally:
        unreachable.close()
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "30"
    assert answer.get_json() == {"error": "temporarily unavailable, please retry"}


def test_the_documented_code_is_the_example_code() -> None:
    assert_doc_quotes_examples(DOC, "examples/flask_app.py")
