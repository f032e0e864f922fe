"""The operator's console: a web page for the queues, the workers, the breaker and the dead letters.

``sendx-worker console`` serves it (127.0.0.1:8026 by default); a host app mounts
the WSGI app that :func:`create_console` returns at a prefix. Needs the ``console``
extra (Jinja2): ``pip install 'sendx-worker[console]'``.
"""

from __future__ import annotations

from .app import ConsoleApp, create_console
from .breaker import BreakerStatus, breaker_status
from .guard import is_loopback, remote_user
from .render import PAYLOAD_LIMIT

__all__ = [
    "PAYLOAD_LIMIT",
    "BreakerStatus",
    "ConsoleApp",
    "breaker_status",
    "create_console",
    "is_loopback",
    "remote_user",
]
