"""The state the request threads share: contacts, faults, the log, credentials, connections."""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

from .endpoints import Teams
from .faults import Faults
from .journal import Journal
from .store import ContactStore

__all__ = ["Backend", "Connections"]


class Connections:
    """The open client connections, one per handler thread, so that an outage can drop them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, socket.socket] = {}

    def add(self, connection: socket.socket) -> None:
        """Register the calling handler thread's connection."""
        with self._lock:
            self._open[threading.get_ident()] = connection

    def discard(self) -> None:
        """Forget the calling handler thread's connection."""
        with self._lock:
            self._open.pop(threading.get_ident(), None)

    def drop_all(self) -> None:
        """Shut every connection but the caller's: blocked reads end, clients see them close.

        The caller's is spared so that an admin request that starts an outage still gets
        its answer; its next API request is reset by the outage check.
        """
        with self._lock:
            victims = [conn for ident, conn in self._open.items() if ident != threading.get_ident()]
        for connection in victims:
            with contextlib.suppress(OSError):  # already closed by its client
                connection.shutdown(socket.SHUT_RDWR)


@dataclass
class Backend:
    """Everything an emulator's request handlers read and change."""

    teams: Teams
    faults: Faults
    store: ContactStore = field(default_factory=ContactStore)
    journal: Journal = field(default_factory=Journal)
    connections: Connections = field(default_factory=Connections)
    # Set while stopping, to cut short the latency and timeout waits of request threads.
    stopping: threading.Event = field(default_factory=threading.Event)
