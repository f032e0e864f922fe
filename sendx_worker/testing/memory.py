"""An in-memory broker per worker fixture: kombu's memory transport, one broker per virtual host.

kombu's ``memory://`` keeps one set of queues for the whole process and drops the
unacknowledged messages of a closed channel. For tests both matter: a message a test
left behind must not be delivered by the next test's worker, and reading the dead
letters (take them unacknowledged, close the channel) must leave them in place, as it
does on a real broker. Here each virtual host (``memory://localhost/<name>``) is a
broker of its own, and a closed channel hands its unacknowledged messages back.
"""

from __future__ import annotations

import threading
from queue import Queue
from typing import Any

from kombu.transport import memory, virtual

__all__ = ["TRANSPORT", "Channel", "Transport", "forget"]

#: What ``broker_transport`` names to use this transport.
TRANSPORT = "sendx_worker.testing.memory:Transport"

_lock = threading.Lock()
_queues: dict[str, dict[str, Queue[Any]]] = {}
_states: dict[str, virtual.BrokerState] = {}


def _vhost(client: Any) -> str:
    return str(client.virtual_host or "/")


class Channel(memory.Channel):
    """A memory channel on its virtual host's queues, which restores what it leaves unacknowledged."""

    do_restore = True

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        with _lock:
            self.queues = _queues.setdefault(_vhost(connection.client), {})
        super().__init__(connection, **kwargs)

    def close(self) -> None:
        """Close like any virtual channel (memory's own close would also forget the queues)."""
        virtual.Channel.close(self)


class Transport(memory.Transport):
    """kombu's memory transport with :class:`Channel` and a broker state per virtual host."""

    Channel = Channel
    # An idle consumer looks for messages a hundred times a second (kombu's default:
    # once a second, which a test would spend waiting).
    polling_interval = 0.01

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        with _lock:
            self.state = _states.setdefault(_vhost(client), virtual.BrokerState())


def forget(virtual_host: str) -> None:
    """Drop a virtual host's queues, messages and bindings."""
    with _lock:
        _queues.pop(virtual_host, None)
        _states.pop(virtual_host, None)
