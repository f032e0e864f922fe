"""A scripted local HTTP server for the client tests (real HTTP, no mocking of ``requests``).

It answers each request with the next scripted :class:`Reply` and records what
arrived. It covers what the emulator is not meant to produce (1xx, redirects,
non-JSON bodies); the SendX behaviour itself is tested against the emulator.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_KEY = "sk-live-7f3a9c1e5b2d4a6f8e0c"
TEAM_ID = "team-1"


@dataclass
class Reply:
    """One scripted answer. ``action``: "answer", "reset" (TCP RST), "close" (no answer), "hang"."""

    status: int = 200
    body: Any = field(default_factory=lambda: {"status": "200", "message": "OK"})
    headers: dict[str, str] = field(default_factory=dict)
    action: str = "answer"


@dataclass
class Received:
    """A request as it arrived at the stub server."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class StubServer:
    """A threaded HTTP server answering from a script, recording every request."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        self.release = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                parts = urlsplit(self.path)
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                stub.received.append(
                    Received("POST", parts.path, dict(parse_qsl(parts.query)), dict(self.headers.items()), body)
                )
                reply = stub.replies.popleft() if stub.replies else Reply()
                stub.answer(self, reply)

            def log_message(self, fmt: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/v1"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def answer(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.action == "hang":
            self.release.wait(30)
            handler.close_connection = True
            return
        if reply.action in ("reset", "close"):
            if reply.action == "reset":
                handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.connection.close()
            handler.close_connection = True
            return
        if isinstance(reply.body, bytes):
            payload = reply.body
        elif isinstance(reply.body, str):
            payload = reply.body.encode()
        else:
            payload = json.dumps(reply.body).encode()
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        if reply.status < 200:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        handler.wfile.write(payload)

    def start(self) -> StubServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
