"""Errors as the console shows them: one line, no broker password, e-mails masked."""

from __future__ import annotations

from ..masking import mask_text
from ..settings import Settings

__all__ = ["describe_error"]


def describe_error(exc: BaseException, settings: Settings) -> str:
    """``ConnectionRefusedError: ...`` with no broker password in it."""
    text = f"{type(exc).__name__}: {exc}"
    url = settings.effective_broker_url
    secret = url.partition("://")[2].rpartition("@")[0].partition(":")[2]
    if secret:
        text = text.replace(secret, "***")
    return mask_text(text)
