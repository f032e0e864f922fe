"""The recipe: tell SendX about a new user only once the signup is committed."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from sendx_worker import identify


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="sendx_identify_new_user")
def identify_new_user(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """Enqueue an identify for a new user when (and only if) its transaction commits."""
    if not created or not instance.email:
        return
    # on_commit: a signup rolled back after this point enqueues nothing, and the worker
    # never runs before the row it may look up is visible. robust=True: if the broker is
    # down after the commit, Django logs the PublishError instead of failing the response.
    transaction.on_commit(
        partial(
            identify,
            instance.email,
            first_name=instance.first_name or None,
            last_name=instance.last_name or None,
            tags=["Signed up"],
        ),
        robust=True,
    )
