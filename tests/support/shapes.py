"""Shapes of hostile JSON the tests build."""

from __future__ import annotations

from typing import Any


def nested(depth: int) -> Any:
    """``{"a": {"a": ... "leaf"}}``, ``depth`` objects deep."""
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value
