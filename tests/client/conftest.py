"""Fixtures for the client tests: the scripted stub server, a closed port, the emulator."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from sendx_stub_server import API_KEY, TEAM_ID, StubServer

from sendx_worker.settings import Credentials


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer().start()
    yield server
    server.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def credentials() -> Credentials:
    return Credentials(api_key=API_KEY, team_id=TEAM_ID)


@pytest.fixture
def emulator() -> Iterator[Any]:
    """The SendX emulator on a free port with one team (``team-1`` / the test key)."""
    emulator_module = pytest.importorskip("sendx_worker.emulator")
    emu = emulator_module.Emulator(host="127.0.0.1", port=0, teams={TEAM_ID: API_KEY}).start()
    try:
        yield emu
    finally:
        emu.stop()
