"""The two things a task can ask of SendX, described once for the delivery code."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..client import SendxClient
from ..schemas import is_increment, load_identify_wire, load_track_wire
from ..settings import Flavor

__all__ = ["IDENTIFY", "TRACK", "Operation", "split_increments"]


@dataclass(frozen=True)
class Operation:
    """A SendX operation: its task name, how to validate its payload, how to send it."""

    name: str
    task_name: str
    load: Callable[[Any, Flavor], dict[str, Any]]
    send: Callable[[SendxClient, Mapping[str, Any]], object]


IDENTIFY = Operation(
    name="identify",
    task_name="sendx.identify_contact",
    load=lambda payload, flavor: load_identify_wire(payload, flavor),
    send=lambda client, payload: client.identify(payload),
)
TRACK = Operation(
    name="track",
    task_name="sendx.track_tags",
    load=lambda payload, flavor: load_track_wire(payload, flavor),
    send=lambda client, payload: client.track(payload),
)


def split_increments(payload: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Split an identify payload into (everything else, its ``++``/``--`` custom fields)."""
    fields: Mapping[str, str] = payload.get("customFields") or {}
    increments = {name: value for name, value in fields.items() if is_increment(value)}
    rest = dict(payload)
    kept = {name: value for name, value in fields.items() if name not in increments}
    if kept:
        rest["customFields"] = kept
    else:
        rest.pop("customFields", None)
    return rest, increments
