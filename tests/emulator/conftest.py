"""Fixtures for the emulator's tests: a running emulator on port 0 and two ways to call it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import requests

from sendx_worker.emulator import Emulator

TEAM, KEY = "team-1", "key-1"
OTHER_TEAM, OTHER_KEY = "team-2", "key-2"


@pytest.fixture(autouse=True)
def no_emulator_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test during which the emulator logged an unexpected error (a bug of its own)."""
    yield
    # At teardown caplog.records holds the teardown's records only: read the call's.
    records = caplog.get_records("setup") + caplog.get_records("call")
    errors = [r for r in records if r.name.startswith("sendx_worker.emulator") and r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """An emulator with two teams, started on a free port and stopped after the test."""
    with Emulator(teams={TEAM: KEY, OTHER_TEAM: OTHER_KEY}, seed=0) as emulator:
        yield emulator


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """A keep-alive HTTP session."""
    with requests.Session() as http:
        yield http


@pytest.fixture
def identify(emu: Emulator, session: requests.Session) -> Callable[..., requests.Response]:
    """``identify(body, flavor="v1", key=KEY, team=TEAM, timeout=5)``: one identify call."""

    def call(
        body: Any, *, flavor: str = "v1", key: str | None = KEY, team: str | None = TEAM, timeout: float = 5
    ) -> requests.Response:
        url, headers, params = _target(emu, flavor, "identify", key, team)
        return session.post(url, json=body, headers=headers, params=params, timeout=timeout)

    return call


@pytest.fixture
def track(emu: Emulator, session: requests.Session) -> Callable[..., requests.Response]:
    """``track(email, add=(), remove=(), flavor="v1", key=KEY, team=TEAM)``: one track call."""

    def call(
        email: str,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        *,
        flavor: str = "v1",
        key: str | None = KEY,
        team: str | None = TEAM,
    ) -> requests.Response:
        url, headers, params = _target(emu, flavor, "track", key, team)
        body: dict[str, Any] = {"addTags": list(add), "removeTags": list(remove)}
        if flavor == "v1":
            params["email"] = email
        else:
            body["email"] = email
        return session.post(url, json=body, headers=headers, params=params, timeout=5)

    return call


def _target(
    emu: Emulator, flavor: str, action: str, key: str | None, team: str | None
) -> tuple[str, dict[str, str], dict[str, str]]:
    url = f"{emu.base_url('v1' if flavor == 'v1' else 'rest')}/contact/{action}"
    header = "api_key" if flavor == "v1" else "X-Team-ApiKey"
    headers = {header: key} if key is not None else {}
    params = {"team_id": team} if flavor == "v1" and team is not None else {}
    return url, headers, params


@pytest.fixture
def stored(emu: Emulator) -> Callable[..., dict[str, Any]]:
    """``stored(email, team_id=None)``: the contact the emulator holds, which must exist."""

    def get(email: str, team_id: str | None = None) -> dict[str, Any]:
        contact = emu.contact(email, team_id=team_id)
        assert contact is not None, f"the emulator holds no contact {email}"
        return contact

    return get
