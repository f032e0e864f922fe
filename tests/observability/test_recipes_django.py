"""The Django recipe (docs/recipes/django.md), run with real Django, sqlite and RabbitMQ."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery import Celery

from tests.delivery.conftest import Stack
from tests.observability.conftest import REPO, assert_doc_quotes_examples, declare_topology, drain, queue_depth

django = pytest.importorskip("django")

DOC = REPO / "docs" / "recipes" / "django.md"


@pytest.fixture(scope="module")
def django_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The example project set up once, with its tables in a fresh sqlite file."""
    from django.core.management import call_command

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_SETTINGS_MODULE", "examples.django_signup.settings")
        patch.setenv("DJANGO_SIGNUP_DB", str(tmp_path_factory.mktemp("django") / "db.sqlite3"))
        django.setup()
        call_command("migrate", verbosity=0)
        yield


def test_a_rolled_back_signup_enqueues_nothing_and_a_committed_one_exactly_one(
    django_project: None, default_app: Celery, stack: Stack
) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    url = stack.broker.url
    declare_topology(url)  # as a worker would have; nothing else declares it if nothing is sent
    client = Client()

    refused = client.post("/signup", {"email": "rob@example.com", "first_name": "Rob", "plan": "platinum"})
    assert refused.status_code == 400
    assert refused.json() == {"errors": {"plan": ["unknown plan"]}}
    assert not get_user_model().objects.filter(email="rob@example.com").exists()
    assert queue_depth(url) == 0

    created = client.post("/signup", {"email": "ann@example.com", "first_name": "Ann", "plan": "pro"})
    assert created.status_code == 201
    assert queue_depth(url) == 1
    (message,) = drain(url)
    assert message.headers["task"] == "sendx.identify_contact"
    args, kwargs, embed = message.decode()
    assert (args, embed) == ([], {"callbacks": None, "errbacks": None, "chain": None, "chord": None})
    assert kwargs.pop("payload") == {"email": "ann@example.com", "firstName": "Ann", "tags": ["Signed up"]}
    assert set(kwargs) == {"occurred_at"}  # stamped at the call (it orders the contact's events)

    # Saving an existing user is not a signup: nothing more is enqueued.
    user = get_user_model().objects.get(email="ann@example.com")
    user.last_name = "Lee"
    user.save()
    assert queue_depth(url) == 0


def test_a_user_saved_in_a_transaction_that_rolls_back_is_never_sent(
    django_project: None, default_app: Celery, stack: Stack
) -> None:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    url = stack.broker.url
    declare_topology(url)
    with transaction.atomic():
        get_user_model().objects.create_user(username="zoe@example.com", email="zoe@example.com")
        transaction.set_rollback(True)
    assert queue_depth(url) == 0
    with transaction.atomic():
        get_user_model().objects.create_user(username="yan@example.com", email="yan@example.com")
        assert queue_depth(url) == 0  # not before the commit either
    assert queue_depth(url) == 1


def test_the_documented_code_is_the_example_code() -> None:
    assert_doc_quotes_examples(
        DOC, "examples/django_signup/signals.py", "examples/django_signup/apps.py", "examples/django_signup/views.py"
    )
