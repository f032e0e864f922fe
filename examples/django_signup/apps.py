"""The signup app; connecting the signal handlers is all it does at start-up."""

from __future__ import annotations

from django.apps import AppConfig


class SignupConfig(AppConfig):
    """Connects :mod:`.signals` once Django's models are ready."""

    name = "examples.django_signup"
    label = "signup"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the post_save handler
