"""Masking of personal data for logs and task representations, and of credentials in broker URLs.

Linear in the length of the text: an address is found from each ``@`` outwards, never
by a pattern that restarts at every character (the regular expression used before
took seconds on 40 KB of text without an ``@``, and blocked the worker meanwhile).
"""

from __future__ import annotations

import re
import string
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .limits import MAX_KWARGSREPR
from .proxies import redact_url

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")

__all__ = ["mask_broker_url", "mask_email", "mask_payload", "mask_text", "masked_repr"]

# What may stand before and after the ``@`` of an address found in free text.
_LOCAL = frozenset(string.ascii_letters + string.digits + "._%+-")
_DOMAIN = frozenset(string.ascii_letters + string.digits + ".-")


def mask_email(email: str) -> str:
    """``john@example.com`` -> ``j***@example.com``; anything that is not an address -> ``***``."""
    local, at, domain = email.partition("@")
    if not at or not local or not domain:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_text(text: str) -> str:
    """Mask every e-mail address inside free text (error messages, reprs): ``j***@example.com``."""
    at = text.find("@")
    if at < 0:
        return text
    parts: list[str] = []
    done = 0  # text[:done] is already in parts
    size = len(text)
    while at >= 0:
        start = at
        while start > done and text[start - 1] in _LOCAL:
            start -= 1
        end = at + 1
        while end < size and text[end] in _DOMAIN:
            end += 1
        if start < at and end > at + 1:
            parts.append(text[done:start])
            parts.append(f"{text[start]}***@{text[at + 1 : end]}")
            done = end
            at = text.find("@", end)
        else:
            at = text.find("@", at + 1)
    parts.append(text[done:])
    return "".join(parts)


def mask_payload(payload: Any) -> Any:
    """A copy of a task payload with every e-mail address masked, for logs and task reprs."""
    if isinstance(payload, dict):
        return {key: mask_payload(value) for key, value in payload.items()}
    if isinstance(payload, list):
        return [mask_payload(value) for value in payload]
    if isinstance(payload, str):
        return mask_text(payload)
    return payload


def masked_repr(kwargs: Any, limit: int = MAX_KWARGSREPR) -> str:
    """The masked ``repr`` of a task's arguments, at most ``limit`` characters (Celery's ``kwargsrepr``).

    It travels in a message header, which must fit in one AMQP frame: unbounded, an
    identify with 13,000 tags could not be published at all.
    """
    text = repr(mask_payload(kwargs))
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
