"""The admin API under ``/_emulator/``: no credentials, never logged, never faulted.

==========================================  ==================================================
``GET  /_emulator/contacts/{email}``        the stored contact (404 if none); ``?team_id=``
                                            picks a team, default the first configured one
``GET  /_emulator/requests``                the request log, oldest first
``GET  /_emulator/stats``                   ``{"requests", "first_at", "last_at", "by_status",
                                            "rate_limited"}`` (429s from the token bucket)
``GET  /_emulator/faults``                  the fault configuration and remaining script
``POST /_emulator/faults``                  a partial update of it; answers the new one
``PUT  /_emulator/teams``                   replace the credentials: ``{"team_id": "api_key"}``
``POST /_emulator/reset``                   forget contacts, log and counters; restore faults
==========================================  ==================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import unquote

from .endpoints import Reply, error_body

__all__ = ["ADMIN_PREFIX", "Control", "handle_admin"]

ADMIN_PREFIX = "/_emulator/"


class Control(Protocol):
    """The part of the Emulator's Python API that the admin endpoints expose."""

    def contact(self, email: str, team_id: str | None = None) -> dict[str, Any] | None: ...
    def requests(self) -> list[dict[str, Any]]: ...
    def stats(self) -> dict[str, Any]: ...
    def faults(self) -> dict[str, Any]: ...
    def set_faults(self, **changes: Any) -> dict[str, Any]: ...
    def set_teams(self, teams: Mapping[str, str]) -> None: ...
    def reset(self) -> None: ...


class _BadRequest(Exception):
    """Raised when an admin request body is unusable."""


def handle_admin(control: Control, method: str, path: str, query: Mapping[str, str], raw: bytes | None) -> Reply:
    """Serve one admin request."""
    name = path[len(ADMIN_PREFIX) :]
    if name.startswith("contacts/"):
        if method != "GET":
            return _not_allowed("GET")
        contact = control.contact(unquote(name[len("contacts/") :]), query.get("team_id"))
        return _json(200, contact) if contact is not None else Reply(404, error_body("no such contact"))
    actions = _ACTIONS.get(name)
    if actions is None:
        return Reply(404, error_body(f"no admin endpoint {path}"))
    action = actions.get(method)
    if action is None:
        return _not_allowed(", ".join(actions))
    try:
        return action(control, _object(raw))
    except (_BadRequest, ValueError, TypeError) as exc:
        return Reply(400, error_body(str(exc)))


def _object(raw: bytes | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise _BadRequest("the body must be JSON") from None
    if not isinstance(body, dict):
        raise _BadRequest("the body must be a JSON object")
    return body


def _json(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload).encode())


def _not_allowed(allow: str) -> Reply:
    return Reply(405, error_body("method not allowed"), (("Allow", allow),))


def _set_teams(control: Control, body: dict[str, Any]) -> Reply:
    control.set_teams(body)
    return _json(200, {"teams": sorted(body)})


def _reset(control: Control, body: dict[str, Any]) -> Reply:
    control.reset()
    return _json(200, {"status": "ok"})


_Action = Callable[[Control, dict[str, Any]], Reply]
_ACTIONS: dict[str, dict[str, _Action]] = {
    "requests": {"GET": lambda control, body: _json(200, control.requests())},
    "stats": {"GET": lambda control, body: _json(200, control.stats())},
    "faults": {
        "GET": lambda control, body: _json(200, control.faults()),
        "POST": lambda control, body: _json(200, control.set_faults(**body)),
    },
    "teams": {"PUT": _set_teams},
    "reset": {"POST": _reset},
}
