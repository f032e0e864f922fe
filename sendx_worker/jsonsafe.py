"""JSON from outside, handled without recursion and without surprises.

A message can hold anything JSON can (and kombu's decoder adds bytes, dates, UUIDs and
decimals); these helpers measure it without recursing, and copy it into plain JSON for
a dead letter or a terminal, bounded in depth, so that no later ``json.dumps``,
``dataclasses.asdict`` or ``repr`` meets a structure deep enough to blow the stack.
"""

from __future__ import annotations

import json
import math
import reprlib
from collections.abc import Mapping
from typing import Any

__all__ = ["as_text", "json_size", "plain_json", "too_deep", "utf8_safe"]

# How a structure cut off at the depth limit is shown in a copy.
_CUT = "<nested deeper than {limit} levels: not shown>"
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 200


def too_deep(value: Any, limit: int) -> str | None:
    """The path of the first container nested deeper than ``limit`` levels, or None.

    Iterative, so it is safe on any depth; the top-level container is level 1.
    """
    # Each entry: a container, its level, and its trail (key, parent's trail) for the path.
    stack: list[tuple[Any, int, Any]] = [(value, 1, None)]
    while stack:
        item, depth, trail = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.items()
        elif isinstance(item, list | tuple):
            children = enumerate(item)
        else:
            continue
        if depth > limit:
            return _path(trail)
        for key, child in children:
            if isinstance(child, Mapping | list | tuple):
                stack.append((child, depth + 1, (key, trail)))
    return None


def _path(trail: Any) -> str:
    keys: list[Any] = []
    while trail is not None:
        key, trail = trail
        keys.append(key)
    text = ""
    for key in reversed(keys):
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return as_text(text or "(top level)", 200)


def json_size(value: Any) -> int:
    """Bytes of ``value`` as JSON the way kombu sends it (non-ASCII escaped); -1 if it is not JSON."""
    try:
        return len(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        return -1


def utf8_safe(text: str) -> str:
    """``text`` with lone surrogates written as ``\\udxxx``, so that it can be encoded as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def as_text(value: Any, limit: int) -> str:
    """A header value or raw body as UTF-8-safe text of at most ``limit`` characters, "…" marking a cut."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value[: limit * 4 + 4])
        text = raw.decode("utf-8", "backslashreplace")
        cut = len(value) > len(raw)
    elif isinstance(value, str):
        text = utf8_safe(value[: limit + 1])
        cut = False
    else:
        text = utf8_safe(_repr.repr(value))
        cut = False
    return text[:limit] + "…" if cut or len(text) > limit else text


def plain_json(value: Any, limit: int, _depth: int = 1) -> Any:
    """A copy of ``value`` made of plain JSON types only, cut off below ``limit`` levels.

    Strings are made UTF-8-safe, bytes become text, NaN and infinities become strings,
    anything else its short ``repr``: the result always survives ``json.dumps`` and
    prints on any terminal that is sent it escaped.
    """
    if isinstance(value, Mapping | list | tuple):
        if _depth > limit:
            return _CUT.format(limit=limit)
        if isinstance(value, Mapping):
            return {as_text(key, 1024): plain_json(item, limit, _depth + 1) for key, item in value.items()}
        return [plain_json(item, limit, _depth + 1) for item in value]
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return utf8_safe(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return as_text(value, 1 << 20)
    return utf8_safe(_repr.repr(value))
