"""Serving the console with the standard library: wsgiref on a thread per request.

wsgiref is enough for a console a few operators look at: no dependency, and the
slow parts (reading the broker, asking the workers) happen in the app, not in the
server. A site that wants more mounts :func:`~sendx_worker.console.create_console`'s
WSGI app in its own server (gunicorn, waitress, uWSGI) instead.
"""

from __future__ import annotations

import logging
import socket
import socketserver
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .app import ConsoleApp

__all__ = ["ConsoleServer", "serve"]

logger = logging.getLogger(__name__)


class ConsoleServer(socketserver.ThreadingMixIn, WSGIServer):
    """A WSGI server with a thread per request (daemon threads: Ctrl-C is not held up)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        # IPv6 addresses need an IPv6 socket.
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)


class _QuietHandler(WSGIRequestHandler):
    """Access lines through logging (DEBUG; actions log their own INFO line), never with the query string."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        path = self.path.split("?", 1)[0]  # a search's query string holds an e-mail address
        logger.debug("console %s %s %s", self.command, path, code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        logger.debug("console server: " + format, *args)


def serve(console: ConsoleApp, host: str, port: int) -> ConsoleServer:
    """A server for ``console`` bound to ``host:port`` (port 0: any free port); call ``serve_forever``."""
    server = make_server(host, port, console, server_class=ConsoleServer, handler_class=_QuietHandler)
    return server
