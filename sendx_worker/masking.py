"""Masking of personal data for logs and task representations."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["mask_email", "mask_payload", "mask_text"]

_EMAIL_LIKE = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+)")


def mask_email(email: str) -> str:
    """``john@example.com`` -> ``j***@example.com``; anything that is not an address -> ``***``."""
    local, at, domain = email.partition("@")
    if not at or not local or not domain:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_text(text: str) -> str:
    """Mask every e-mail address inside free text (error messages, reprs)."""
    return _EMAIL_LIKE.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


def mask_payload(payload: Any) -> Any:
    """A copy of a task payload with every e-mail address masked, for logs and task reprs."""
    if isinstance(payload, dict):
        return {key: mask_payload(value) for key, value in payload.items()}
    if isinstance(payload, list):
        return [mask_payload(value) for value in payload]
    if isinstance(payload, str):
        return mask_text(payload)
    return payload
