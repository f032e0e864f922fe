"""The Emulator: a SendX stand-in serving real HTTP from background threads, and its Python API."""

from __future__ import annotations

import copy
import logging
import socket
import socketserver
import sys
import threading
from collections.abc import Mapping
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

from .admin import Control
from .backend import Backend
from .endpoints import Teams
from .faults import FaultConfig, Faults
from .handler import Handler
from .journal import DEFAULT_LOG_SIZE, Journal

__all__ = ["DEFAULT_TEAMS", "Emulator", "EmulatorServer"]

logger = logging.getLogger(__name__)

DEFAULT_TEAMS: Mapping[str, str] = {"team-1": "test-key"}
_BASE_PATHS = {"v1": "/api/v1", "rest": "/api/v1/rest"}
# How often the accept loop checks for a stop; it bounds how long stop() and an outage take.
_POLL_S = 0.02


class EmulatorServer(ThreadingHTTPServer):
    """One listening socket; a daemon thread per connection, all sharing one Backend."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024  # benchmarks open dozens of connections at once
    allow_reuse_address = True  # an outage that ends must get the same port back at once

    def __init__(self, address: tuple[str, int], backend: Backend, control: Control) -> None:
        self.backend = backend
        self.control = control
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup, which can stall for seconds."""
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that went away; log anything else with its traceback."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        logger.exception("sendx emulator: unexpected error serving %s", client_address)


class Emulator:
    """SendX's identify and track, both flavors, with fault injection, on a local port.

    ``port=0`` picks a free port. Use ``start()``/``stop()`` or ``with Emulator() as emu``.
    The fault keyword arguments are the baseline that ``reset()`` restores (see
    :mod:`sendx_worker.emulator.faults`). ``outage="refuse"`` closes the listening socket,
    so the HTTP admin API is unreachable too: end it from Python with
    ``set_faults(outage=None)``, which listens again on the same port.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        teams: Mapping[str, str] | None = None,
        latency_ms: float = 0.0,
        seed: int | None = 0,
        *,
        error_rate: float = 0.0,
        error_status: int = 503,
        throttle_rate: float = 0.0,
        retry_after: float | str | None = 1,
        timeout_rate: float = 0.0,
        slow_s: float = 30.0,
        outage: Literal["refuse", "reset"] | None = None,
        script: Mapping[str, list[Any]] | None = None,
        log_size: int = DEFAULT_LOG_SIZE,
        rate_limit: float | str | None = None,
        rate_limit_burst: float | None = None,
    ) -> None:
        self.host = host
        self._port = port
        self._baseline = FaultConfig().updated(
            {
                "latency_ms": latency_ms,
                "seed": seed,
                "error_rate": error_rate,
                "error_status": error_status,
                "throttle_rate": throttle_rate,
                "retry_after": retry_after,
                "timeout_rate": timeout_rate,
                "slow_s": slow_s,
                "outage": outage,
                "rate_limit": rate_limit,
                "rate_limit_burst": rate_limit_burst,
            }
        )
        self._baseline_script = copy.deepcopy(dict(script or {}))
        self.backend = Backend(
            teams=Teams(DEFAULT_TEAMS if teams is None else teams),
            faults=Faults(self._baseline, self._baseline_script),
            journal=Journal(log_size),
        )
        # Reentrant: an admin request that sets an outage runs set_faults from a handler thread.
        self._lifecycle = threading.RLock()
        self._started = False
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.url if self._port else "not started"
        return f"Emulator({where}, teams={sorted(self.backend.teams.as_dict())})"

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port, known once started (the same for the emulator's whole life)."""
        if not self._port:
            raise RuntimeError("the emulator has no port until start() binds one")
        return self._port

    @property
    def url(self) -> str:
        """``http://HOST:PORT``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def base_url(self, flavor: Literal["v1", "rest"] = "v1") -> str:
        """The base URL a client uses for ``flavor``: ``.../api/v1`` or ``.../api/v1/rest``."""
        if flavor not in _BASE_PATHS:
            raise ValueError(f"flavor must be 'v1' or 'rest', not {flavor!r}")
        return self.url + _BASE_PATHS[flavor]

    def start(self) -> Emulator:
        """Bind and serve in background daemon threads; return self. Starting twice is harmless."""
        with self._lifecycle:
            if not self._started:
                self.backend.stopping.clear()
                self._open()  # even under a "refuse" outage, to learn and keep the port
                self._started = True
                self._sync_listener()
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection."""
        with self._lifecycle:
            self._started = False
            self.backend.stopping.set()
            self._close()

    def contact(self, email: str, team_id: str | None = None) -> dict[str, Any] | None:
        """A copy of the stored contact (default: the first configured team), or None."""
        team = team_id or self.backend.teams.default()
        return None if team is None else self.backend.store.get(team, email)

    def contacts(self, team_id: str | None = None) -> dict[str, dict[str, Any]]:
        """Copies of every stored contact of a team (default: the first configured one), by e-mail."""
        team = team_id or self.backend.teams.default()
        return {} if team is None else self.backend.store.contacts(team)

    def requests(self) -> list[dict[str, Any]]:
        """The request log of API requests, oldest first (admin requests are not logged)."""
        return self.backend.journal.entries()

    def stats(self) -> dict[str, Any]:
        """Counters over every API request: ``requests``, ``first_at``, ``last_at``, ``by_status``,
        ``rate_limited`` (the 429s the token bucket answered; ``by_status["429"]`` counts every 429).
        """
        return self.backend.journal.stats()

    def faults(self) -> dict[str, Any]:
        """The fault configuration and the script steps still to come."""
        return self.backend.faults.as_json()

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change some fault settings (``script`` merges by e-mail); return the new configuration.

        Raises ValueError on an unknown key or a bad value, changing nothing.
        """
        with self._lifecycle:
            config = self.backend.faults.update(changes)
            self._sync_listener()
        return config

    def set_teams(self, teams: Mapping[str, str]) -> None:
        """Accept exactly these credentials (team id -> API key) from now on."""
        self.backend.teams.replace(teams)

    def reset(self) -> None:
        """Forget contacts, the log and the counters; restore the faults given at construction."""
        with self._lifecycle:
            self.backend.store.clear()
            self.backend.journal.clear()
            self.backend.faults.restore(self._baseline, self._baseline_script)
            self._sync_listener()

    def _sync_listener(self) -> None:
        listening = self._started and self.backend.faults.config.outage != "refuse"
        if listening and self._server is None:
            self._open()
        elif not listening and self._server is not None:
            self._close()

    def _open(self) -> None:
        server = EmulatorServer((self.host, self._port), self.backend, self)
        self._port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": _POLL_S}, name="sendx-emulator", daemon=True
        )
        self._thread.start()

    def _close(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()
        # Open keep-alive connections would otherwise go on being served.
        self.backend.connections.drop_all()
