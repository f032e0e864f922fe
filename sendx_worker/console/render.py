"""Jinja2 templates, autoescaped, and the filters that keep hostile text inert.

Everything a dead letter carries came from outside (a producer, SendX's answer),
so every value is escaped by Jinja's autoescaping, and the filters here also make
control characters visible (a terminal escape is shown as ``\\x1b``, not passed
on) and mask e-mail addresses. Payloads are shown as JSON, masked, cut at
:data:`PAYLOAD_LIMIT` characters.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from ..masking import mask_payload, mask_text

__all__ = ["PAYLOAD_LIMIT", "environment", "payload_text", "printable"]

#: The longest payload a detail page shows, in characters of its indented JSON.
PAYLOAD_LIMIT = 16 * 1024
#: The longest free text (an error, SendX's message) a cell shows.
TEXT_LIMIT = 2000

# C0 and C1 controls (but tab and newline), DEL, and the bidirectional overrides and
# isolates that can make text read differently from what it is.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(value: Any, limit: int = TEXT_LIMIT, mask: bool = True) -> str:
    """``value`` as text with control characters shown as escapes, e-mails masked, cut at ``limit``.

    ``mask=False`` is for names that look like addresses and are none (a worker's ``name@host``).
    """
    text = "-" if value is None or value == "" else str(value)
    text = _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else "\ufffd", text)
    text = mask_text(text) if mask else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def payload_text(payload: Any, limit: int = PAYLOAD_LIMIT) -> tuple[str, bool]:
    """The payload as indented JSON, masked (control characters escaped by JSON itself); (text, cut)."""
    try:
        text = json.dumps(mask_payload(payload), indent=2, sort_keys=True, ensure_ascii=True, default=str)
    except (TypeError, ValueError):
        text = json.dumps(mask_text(repr(payload)))
    if len(text) <= limit:
        return text, False
    return text[:limit], True


def when(value: Any, zone: bool = True) -> str:
    """An ISO time as ``2026-11-28 02:27:04 UTC`` (``zone=False``: without "UTC"); else printable text."""
    shape = "%Y-%m-%d %H:%M:%S UTC" if zone else "%Y-%m-%d %H:%M:%S"
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime(shape)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return printable(value)
        return moment.astimezone(UTC).strftime(shape)
    return "-"


def ago(seconds: float | None) -> str:
    """``42 s``, ``3 min``, ``2 h``, ``5 d``."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{max(seconds, 0):.0f} s"


def rate(value: float | None) -> str:
    """A per-minute figure with its sign: ``+12.0``, ``-3.5``, ``0``, or ``-`` when unknown."""
    if value is None:
        return "-"
    return "0" if abs(value) < 0.05 else f"{value:+.1f}"


def environment() -> Environment:
    """The console's templates, every one autoescaped."""
    env = Environment(
        loader=PackageLoader("sendx_worker.console", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(printable=printable, when=when, ago=ago, rate=rate)
    return env
