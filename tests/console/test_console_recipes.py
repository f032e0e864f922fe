"""The console mounted in Flask and in Django (docs/recipes/console.md), each with its host's own login."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from sendx_worker.deadletter import DeadLetterQueue
from sendx_worker.settings import load_settings
from tests.console.conftest import fabricated
from tests.observability.conftest import REPO, assert_doc_quotes_examples
from tests.support.brokers import IsolatedBroker

DOC = REPO / "docs" / "recipes" / "console.md"


def dead_letters(tmp_path: Path) -> DeadLetterQueue:
    from sendx_worker.cli.broker import pinned_app

    return DeadLetterQueue(pinned_app(load_settings({"SENDX_DATA_DIR": str(tmp_path)})).connection_for_write)


def csrf_token(body: str) -> str:
    return body.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_flask_mounts_the_console_for_its_logged_in_admins(embedded: IsolatedBroker, tmp_path: Path) -> None:
    pytest.importorskip("flask")
    from examples.console_flask import create_app

    queue = dead_letters(tmp_path)
    queue.add([fabricated("a" * 32, "ann@example.com"), fabricated("b" * 32, "bob@example.com")])
    client = create_app().test_client()
    assert client.get("/ops/sendx/dead").status_code == 403
    with client.session_transaction() as session:
        session.update(user="carol", admin=False)
    assert client.get("/ops/sendx/dead").status_code == 403
    with client.session_transaction() as session:
        session.update(user="carol", admin=True)
    page = client.get("/ops/sendx/dead")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert '<span class="who">carol</span>' in body
    assert 'href="/ops/sendx/static/console.css"' in body and "a***@example.com" in body
    assert client.get("/ops/sendx/static/console.css").status_code == 200
    purged = client.post(
        "/ops/sendx/dead/purge",
        data={"csrf": csrf_token(body), "id": "a" * 32, "confirm": "yes"},
        headers={"Origin": "http://localhost"},
    )
    assert purged.status_code == 303
    assert purged.headers["Location"].startswith("/ops/sendx/dead?")
    assert [record.id for record in queue.records()] == ["b" * 32]
    forged = client.post("/ops/sendx/dead/purge", data={"csrf": "guessed", "id": "b" * 32, "confirm": "yes"})
    assert forged.status_code == 403


@pytest.fixture
def django_client(embedded: IsolatedBroker, tmp_path: Path) -> Iterator[Any]:
    django = pytest.importorskip("django")
    from django.core.management import call_command

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_SETTINGS_MODULE", "examples.django_signup.settings")
        patch.setenv("DJANGO_SIGNUP_DB", str(tmp_path / "db.sqlite3"))
        django.setup()
        call_command("migrate", verbosity=0)
        from django.test import Client

        from examples.django_signup import console

        console.console.cache_clear()  # built again from this test's environment
        yield Client()
        console.console().close()
        console.console.cache_clear()


def test_django_mounts_the_console_for_staff_only(django_client: Any, tmp_path: Path) -> None:
    from django.contrib.auth import get_user_model

    queue = dead_letters(tmp_path)
    queue.add([fabricated("c" * 32, "cy@example.com"), fabricated("d" * 32, "dee@example.com")])
    users = get_user_model().objects
    users.filter(username__in=["dora", "staffer"]).delete()
    assert django_client.get("/ops/sendx/dead").status_code == 302  # to the login page
    django_client.force_login(users.create_user(username="dora"))
    assert django_client.get("/ops/sendx/dead").status_code == 302
    django_client.force_login(users.create_user(username="staffer", is_staff=True))
    page = django_client.get("/ops/sendx/dead")
    assert page.status_code == 200
    body = page.content.decode()
    assert '<span class="who">staffer</span>' in body
    assert 'action="/ops/sendx/dead/replay"' in body and "c***@example.com" in body
    assert page["Content-Security-Policy"].startswith("default-src 'none'")
    assert django_client.get("/ops/sendx").status_code == 200  # the overview
    form = urlencode({"csrf": csrf_token(body), "id": "c" * 32, "confirm": "yes"})  # as a browser posts it
    purged = django_client.post("/ops/sendx/dead/purge", form, content_type="application/x-www-form-urlencoded")
    assert purged.status_code == 303, purged.content
    assert purged["Location"].startswith("/ops/sendx/dead?")
    assert [record.id for record in queue.records()] == ["d" * 32]


def test_the_documented_code_is_the_example_code() -> None:
    assert_doc_quotes_examples(DOC, "examples/console_flask.py", "examples/django_signup/console.py")
