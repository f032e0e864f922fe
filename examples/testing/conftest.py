"""Django for the example tests, without pytest-django: the example project on a fresh sqlite file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def django_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """examples/django_signup set up once, its tables created."""
    import django
    from django.core.management import call_command

    os.environ["DJANGO_SETTINGS_MODULE"] = "examples.django_signup.settings"
    os.environ["DJANGO_SIGNUP_DB"] = str(Path(tmp_path_factory.mktemp("django")) / "db.sqlite3")
    django.setup()
    call_command("migrate", verbosity=0)
    yield
