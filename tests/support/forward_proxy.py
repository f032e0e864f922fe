"""A tiny forwarding HTTP proxy on port 0: records what passes through it and relays it.

A plain-http proxy as ``requests`` uses one for an ``http://`` URL: the client sends
``POST http://127.0.0.1:8025/api/v1/contact/identify HTTP/1.1`` (an absolute URI) to the
proxy, which makes the request itself and relays the answer. No CONNECT, so no https.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["ForwardProxy", "ProxiedRequest"]

# Hop-by-hop headers (RFC 9110 7.6.1) and the proxy's own: not forwarded to the origin.
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer", "upgrade"}


@dataclass(frozen=True)
class ProxiedRequest:
    """One request as the proxy received it."""

    method: str
    target: str  # the request line's target: an absolute URI from a client that uses the proxy
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' connection pool expects
    server: _Server

    def _forward(self) -> None:
        self.server.proxy.record(ProxiedRequest(self.command, self.path, dict(self.headers.items())))
        target = urlsplit(self.path)
        if target.scheme != "http" or not target.hostname:
            self._answer(400, [], b"this proxy forwards absolute http:// URIs only")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
        path = target.path + (f"?{target.query}" if target.query else "")
        upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=10)
        try:
            upstream.request(self.command, path or "/", body=body, headers=headers)
            response = upstream.getresponse()
            relayed = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP | {"content-length"}]
            self._answer(response.status, relayed, response.read())
        except OSError as exc:
            self._answer(502, [], f"upstream failed: {exc}".encode())
        finally:
            upstream.close()

    do_GET = do_POST = do_PUT = do_DELETE = _forward

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, proxy: ForwardProxy) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.proxy = proxy


class ForwardProxy:
    """``with ForwardProxy() as proxy:`` serves on ``proxy.url``; ``proxy.requests`` is what it relayed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[ProxiedRequest] = []
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url_with_credentials(self, user: str, password: str) -> str:
        """``http://USER:PASSWORD@127.0.0.1:PORT``."""
        return self.url.replace("http://", f"http://{user}:{password}@")

    @property
    def requests(self) -> list[ProxiedRequest]:
        with self._lock:
            return list(self._requests)

    def record(self, request: ProxiedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
