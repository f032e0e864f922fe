"""One readable line from marshmallow's nested error messages, for a CLI or a log."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["describe_errors"]

# marshmallow's key for errors that belong to no single field.
_SCHEMA_KEY = "_schema"
# A field name longer than this (an unknown field can be named anything) is shown cut.
_NAME_SHOWN = 80


def describe_errors(messages: Mapping[str, Any] | list[Any]) -> str:
    """Flatten ``messages`` to ``"first_name: ...; custom_fields.Logins: ..."``, nested keys joined by dots."""
    return "; ".join(_flatten(messages, ""))


def _flatten(messages: Any, path: str) -> Iterator[str]:
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = "" if key == _SCHEMA_KEY else _shown(str(key))
            yield from _flatten(value, ".".join(part for part in (path, name) if part))
    elif isinstance(messages, list | tuple):
        texts = [str(item) for item in messages if not isinstance(item, Mapping | list | tuple)]
        if texts:
            yield _line(path, " ".join(texts))
        for item in messages:
            if isinstance(item, Mapping | list | tuple):
                yield from _flatten(item, path)
    else:
        yield _line(path, str(messages))


def _shown(name: str) -> str:
    return name if len(name) <= _NAME_SHOWN else name[:_NAME_SHOWN] + "…"


def _line(path: str, text: str) -> str:
    return f"{path}: {text}" if path else text
