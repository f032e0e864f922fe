"""The SendX endpoints themselves: credentials, bodies and answers, without HTTP plumbing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .store import ContactStore
from .wire import Flavor, Rejection, parse_identify, parse_track

__all__ = ["ROUTES", "Reply", "Route", "Teams", "answer", "error_body"]


@dataclass(frozen=True)
class Route:
    """One SendX endpoint: which flavor, which call, and where its key travels."""

    flavor: Flavor
    action: Literal["identify", "track"]

    @property
    def key_header(self) -> str:
        """The request header that carries the API key."""
        return "api_key" if self.flavor == "v1" else "X-Team-ApiKey"

    def email_of(self, body: Any, query: Mapping[str, str]) -> str | None:
        """The e-mail a request is about (for fault scripts), if it names one."""
        if self.flavor == "v1" and self.action == "track":
            return query.get("email")
        email = body.get("email") if isinstance(body, dict) else None
        return email if isinstance(email, str) else None


ROUTES: dict[str, Route] = {
    "/api/v1/contact/identify": Route("v1", "identify"),
    "/api/v1/contact/track": Route("v1", "track"),
    "/api/v1/rest/contact/identify": Route("rest", "identify"),
    "/api/v1/rest/contact/track": Route("rest", "track"),
}


@dataclass(frozen=True)
class Reply:
    """An answer ready to send: the status, the encoded JSON body, any extra headers."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


class Teams:
    """The accepted credentials, team id -> API key; replaced whole, read without a lock."""

    def __init__(self, teams: Mapping[str, str]) -> None:
        self._teams: dict[str, str] = {}
        self.replace(teams)

    def replace(self, teams: Mapping[str, str]) -> None:
        """Accept exactly these credentials from now on; raise ValueError on a malformed mapping."""
        if not isinstance(teams, Mapping) or not all(
            isinstance(team, str) and team and isinstance(key, str) and key for team, key in teams.items()
        ):
            raise ValueError('teams: must map non-empty team ids to non-empty API keys, e.g. {"team-1": "key-1"}')
        # Swapping the reference is atomic, so request threads never see a half-built mapping.
        self._teams = dict(teams)

    def as_dict(self) -> dict[str, str]:
        """A copy of the credentials."""
        return dict(self._teams)

    def default(self) -> str | None:
        """The first configured team, used when a caller names none."""
        return next(iter(self._teams), None)

    def authenticate(self, route: Route, key: str | None, team_id: str | None) -> str | None:
        """The team these credentials belong to, or None (v1 needs key and team id; rest the key)."""
        teams = self._teams
        if not key:
            return None
        if route.flavor == "v1":
            return team_id if team_id is not None and teams.get(team_id) == key else None
        return next((team for team, team_key in teams.items() if team_key == key), None)


def error_body(message: str) -> bytes:
    """SendX's error shape: ``{"status": "error", "message": ...}``."""
    return json.dumps({"status": "error", "message": message}).encode()


_REST_OK = json.dumps({"status": "200", "message": "OK"}).encode()
_V1_TRACK_OK = json.dumps({"status": "200", "message": "OK", "data": "success"}).encode()


def answer(
    route: Route,
    *,
    query: Mapping[str, str],
    key: str | None,
    content_type: str | None,
    body: Any,
    teams: Teams,
    store: ContactStore,
) -> Reply:
    """Authenticate, check and apply one request; ``body`` is the parsed JSON or the raw text."""
    team = teams.authenticate(route, key, query.get("team_id"))
    if team is None:
        what = "API key or team_id" if route.flavor == "v1" else "API key"
        return Reply(401, error_body(f"unauthorized: invalid {what}"))
    # Strict where SendX may be lenient: a client that forgets the header is a bug to surface.
    if body is not None and (content_type or "").split(";")[0].strip().lower() != "application/json":
        return Reply(415, error_body("Content-Type must be application/json"))
    try:
        if route.action == "identify":
            contact = store.identify(team, parse_identify(body, route.flavor))
            if route.flavor == "v1":
                return Reply(200, json.dumps({"status": "200", "message": "OK", "data": contact}).encode())
            return Reply(200, _REST_OK)
        store.track(team, parse_track(body, route.flavor, query.get("email")))
    except Rejection as rejection:
        return Reply(rejection.status, error_body(rejection.message))
    return Reply(200, _V1_TRACK_OK if route.flavor == "v1" else _REST_OK)
