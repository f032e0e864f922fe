"""The HTTP layer: the request handler that routes, faults, logs and answers each request.

The hot path is kept lean for benchmarks: one JSON decode and one encode per request,
one write per response, a lock held only around the store, the faults and the log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import struct
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .admin import ADMIN_PREFIX, handle_admin
from .endpoints import ROUTES, Reply, Route, answer, error_body
from .faults import Decision
from .request_head import HeaderError, Headers, read_headers

if TYPE_CHECKING:
    from .server import EmulatorServer

__all__ = ["Handler"]

logger = logging.getLogger(__name__)

_MAX_BODY = 1 << 20  # a contact update is a few hundred bytes; a megabyte is a client bug
_NO_BODY_STATUSES = (204, 304)
# RFC 9110's token: what a method may be made of.
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# ASCII digits only ("²".isdigit() is true), and few enough to be a length at all.
_LENGTH = re.compile(r"[0-9]{1,18}")


class _Unframed(Exception):
    """Raised when a request's body cannot be delimited; the connection must then close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.reply = Reply(status, error_body(message))


class Handler(BaseHTTPRequestHandler):
    """Serves the SendX API paths and the admin paths over keep-alive connections."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small request/response pairs: Nagle would add 40 ms
    server: EmulatorServer
    raw_requestline: bytes  # set by the base class before parse_request

    def setup(self) -> None:
        """Register the connection so that an outage or stop can drop it."""
        super().setup()
        self.server.backend.connections.add(self.connection)

    def finish(self) -> None:
        """Unregister the connection."""
        try:
            super().finish()
        finally:
            self.server.backend.connections.discard()

    def parse_request(self) -> bool:
        """Read the request line and headers (HTTP/1.0 and 1.1 only) into ``self.head``."""
        self.close_connection = True
        self.command, self.request_version = "", "HTTP/1.1"  # what send_error reads on a bad line
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if not words:
            return False
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1") or not _METHOD.fullmatch(words[0]):
            self.send_error(400, "Bad request line (HTTP/1.0 and HTTP/1.1 only)")
            return False
        self.command, self.path, self.request_version = words
        try:
            self.head: Headers = read_headers(self.rfile)  # type: ignore[arg-type]  # a BufferedReader
        except HeaderError as exc:
            self.send_error(exc.status, None, str(exc))
            return False
        connection = (self.head.get("Connection") or "").lower()
        keep_alive = connection == "keep-alive" if self.request_version == "HTTP/1.0" else connection != "close"
        self.close_connection = not keep_alive
        if self.request_version == "HTTP/1.1" and (self.head.get("Expect") or "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # the base class's name
        """Log nothing: a line per request on stderr would cap a benchmark."""

    def do_GET(self) -> None:
        """Dispatch; every method goes through the same router."""
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        path, _, query_string = self.path.partition("?")
        query = dict(parse_qsl(query_string, keep_blank_values=True))
        try:
            if path.startswith(ADMIN_PREFIX):
                self._send(handle_admin(self.server.control, self.command, path, query, self._read_body()))
            else:
                self._api(path, query, time.time())
        except _Unframed as exc:
            self.close_connection = True
            self._send(exc.reply)

    def _api(self, path: str, query: dict[str, str], received: float) -> None:
        backend = self.server.backend
        route = ROUTES.get(path)
        if route is None or self.command != "POST":
            body = _decode(self._read_body())
            if route is None:
                reply = Reply(404, error_body(f"no endpoint {path}"))
            else:
                reply = Reply(405, error_body("method not allowed"), (("Allow", "POST"),))
            self._record(path, query, body, reply.status, received)
            self._send(reply)
            return
        if backend.faults.config.outage is not None:
            self._record(path, query, None, None, received)
            self._reset()
            return
        body = _decode(self._read_body())
        decision = backend.faults.decide(route.email_of(body, query))
        if decision.action == "reset":
            self._record(path, query, body, None, received)
            self._reset()
            return
        reply, applied = self._reply(route, query, body, decision)
        self._record(path, query, body, reply.status, received, applied=applied, rate_limited=decision.rate_limited)
        self._wait(decision.delay_s)
        self._send(reply)

    def _reply(self, route: Route, query: dict[str, str], body: Any, decision: Decision) -> tuple[Reply, bool]:
        """The answer to an API request, and whether the request changed the contacts."""
        applied = False
        if decision.action == "timeout":
            reply = Reply(504, error_body(f"emulated timeout: answered after {decision.delay_s:g} s"))
        elif decision.action == "fail":
            reply = Reply(decision.status, error_body(f"emulated fault: HTTP {decision.status}"))
        else:
            reply = self._process(route, query, body)
            applied = 200 <= reply.status < 300
            if decision.action == "apply_then_fail":
                reply = Reply(decision.status, error_body(f"emulated fault after applying: HTTP {decision.status}"))
            elif reply.status == 200 and decision.status != 200:
                reply = replace(reply, status=decision.status)  # a scripted 201 or 202
        if decision.retry_after is not None:
            reply = replace(reply, headers=(*reply.headers, ("Retry-After", decision.retry_after)))
        return reply, applied

    def _process(self, route: Route, query: dict[str, str], body: Any) -> Reply:
        backend = self.server.backend
        try:
            return answer(
                route,
                query=query,
                key=self.head.get(route.key_header),
                content_type=self.head.get("Content-Type"),
                body=body,
                teams=backend.teams,
                store=backend.store,
            )
        except Exception:  # a bug in the emulator must not look like a dropped connection
            logger.exception("sendx emulator: failed to process %s", self.path)
            return Reply(500, error_body("emulator bug: see its log"))

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.head.get("Transfer-Encoding") or "").lower():
            raise _Unframed(411, "send a Content-Length; chunked bodies are not supported")
        length = (self.head.get("Content-Length") or "0").strip()
        if not _LENGTH.fullmatch(length):
            raise _Unframed(400, "invalid Content-Length")
        size = int(length)
        if size > _MAX_BODY:
            raise _Unframed(413, f"bodies are limited to {_MAX_BODY} bytes")
        return self.rfile.read(size) if size else None

    def _record(
        self,
        path: str,
        query: dict[str, str],
        body: Any,
        status: int | None,
        received: float,
        *,
        applied: bool = False,
        rate_limited: bool = False,
    ) -> None:
        self.server.backend.journal.record(
            {
                "applied": applied,
                "method": self.command,
                "path": path,
                "query": query,
                "headers": self.head.as_dict(),
                "body": body,
                "status": status,
                "timestamp": received,
            },
            rate_limited=rate_limited,
        )

    def _wait(self, seconds: float) -> None:
        # Loop on a monotonic deadline: the answer must never come before the delay is over.
        stopping = self.server.backend.stopping
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if stopping.wait(remaining):
                return

    def _send(self, reply: Reply) -> None:
        phrase = self.responses.get(reply.status, ("Unknown",))[0]
        lines = [f"HTTP/1.1 {reply.status} {phrase}"]
        body = reply.body
        if reply.status in _NO_BODY_STATUSES:
            body = b""
        else:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in reply.headers]
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _reset(self) -> None:
        # Linger 0 makes the close send RST rather than FIN: the client sees a reset.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()  # takes effect when finish() closes the socket's files


def _decode(raw: bytes | None) -> Any:
    """The body as parsed JSON, or as raw text when it is not JSON; None when empty."""
    if raw is None:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to parse: SendX's 422
        return text
