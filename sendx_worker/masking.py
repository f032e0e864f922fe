"""Masking of personal data for logs and task representations, and of credentials in broker URLs."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .proxies import redact_url

__all__ = ["mask_broker_url", "mask_email", "mask_payload", "mask_text"]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")

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


def mask_broker_url(url: str) -> str:
    """``url`` with every password hidden, in each URL of a ``;``-separated failover list.

    ``amqp://guest:pw@n1//;amqp://guest:pw@n2//`` -> ``amqp://guest:**@n1//;amqp://guest:**@n2//``
    (kombu's ``maybe_sanitize_url`` masks the first URL of a list only). A piece that does
    not start with a scheme is taken as part of the URL before it (a ``;`` in a password),
    and a URL that does not parse cleanly (an unescaped ``/`` or ``@`` in the password)
    loses everything between its scheme and its last ``@``, so a password never shows.
    """
    urls: list[str] = []
    for piece in url.split(";"):
        if urls and not _SCHEME.match(piece):
            urls[-1] += ";" + piece
        else:
            urls.append(piece)
    return ";".join(_mask_one_url(one) for one in urls)


def _mask_one_url(url: str) -> str:
    if "@" not in url:
        return url
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return redact_url(url)
    credentials, _, host = parts.netloc.rpartition("@")
    if password is None or not parts.scheme or ";" in url or not credentials:
        return redact_url(url)
    user = credentials.partition(":")[0]
    return urlunsplit((parts.scheme, f"{user}:**@{host}", parts.path, parts.query, parts.fragment))
