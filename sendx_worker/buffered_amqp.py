"""kombu's RabbitMQ transport, reading the socket in chunks rather than a frame's parts at a time.

py-amqp reads exactly the bytes it needs next: a frame's 7-byte header, then its
payload, then its end octet, each a ``recv`` of its own, and it switches the socket's
timeout to 0 and back around every frame (an ``ioctl`` call each way). A task
message is three frames, so the worker's consumer thread made ~6 ``recv`` and ~6
``ioctl`` calls for each message, each one dropping the GIL and taking it back while
64 pool threads want it. Here a ``recv`` takes what the socket holds (up to
:data:`READ_CHUNK`), the frames are cut from that buffer, and the timeout is left
alone (a read that must not block is one ``recv`` with ``MSG_DONTWAIT``): under a
backlog one ``recv`` brings several messages. Nothing else changes: the same frames in the same order, the same
errors, and kombu's reader already drains every frame the buffer holds (it reads
again until a read would block), so a buffered frame never waits for the socket.

TLS (``amqps://``) keeps kombu's and py-amqp's own transport (celeryconf): the ``ssl`` module buffers records
itself.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from amqp.transport import TCPTransport
from kombu.transport import pyamqp

__all__ = ["READ_CHUNK", "BufferedTCPTransport", "Connection", "Transport"]

#: The most one ``recv`` takes: a task message is ~1 KB, so a backlog of prefetched
#: messages comes in a few reads.
READ_CHUNK = 64 * 1024
# A frame: type (1 octet), channel (2), payload size (4), the payload, the end octet.
_FRAME_HEADER = struct.Struct(">BHI")
_FRAME_OVERHEAD = _FRAME_HEADER.size + 1
# One non-blocking recv on a blocking socket (Linux, the BSDs, macOS; not Windows).
_DONTWAIT: int = getattr(socket, "MSG_DONTWAIT", 0)


class BufferedTCPTransport(TCPTransport):
    """py-amqp's TCP transport with reads served from a chunked buffer."""

    def _setup_transport(self) -> None:
        super()._setup_transport()
        self._read_buffer = bytearray()
        self._recv_flags = 0

    def _read(self, n: int, initial: bool = False, _errnos: tuple[int, ...] = (errno.EAGAIN, errno.EINTR)) -> bytes:
        """Exactly ``n`` bytes, from the buffer, reading the socket only when it holds fewer."""
        buffer = self._read_buffer
        if type(buffer) is not bytearray:
            # read_frame puts a timed-out frame's bytes back in front as bytes.
            buffer = self._read_buffer = bytearray(buffer)
        while len(buffer) < n:
            try:
                chunk = self._quick_recv(max(n - len(buffer), READ_CHUNK), self._recv_flags)
            except OSError as exc:
                # As py-amqp: a timed-out or unavailable read leaves what was read buffered.
                if exc.errno in _errnos:
                    if initial and self.raise_on_initial_eintr:
                        raise TimeoutError() from None
                    continue
                raise
            if not chunk:
                raise OSError("Server unexpectedly closed connection")
            buffer += chunk
        result = bytes(buffer[:n])
        del buffer[:n]  # cheap: a bytearray drops its head by moving its start
        return result

    @contextmanager
    def having_timeout(self, timeout: float | None) -> Iterator[Any]:
        """py-amqp's, without touching the socket's timeout when a frame is buffered or the timeout is 0.

        kombu's reader asks for a timeout of 0 (read what is there, else raise
        ``socket.timeout``): py-amqp switched the socket to non-blocking and back for it;
        here only that one ``recv`` is non-blocking (``MSG_DONTWAIT``).
        """
        if timeout is not None and self._frame_buffered():
            yield self.sock
            return
        if timeout == 0 and _DONTWAIT and self._plain_blocking_socket():
            self._recv_flags = _DONTWAIT
            try:
                yield self.sock
            finally:
                self._recv_flags = 0
            return
        with super().having_timeout(timeout) as sock:
            yield sock

    def _plain_blocking_socket(self) -> bool:
        # The standard library's socket, in blocking mode. A green socket (gevent's, once
        # monkey-patched, whose class then takes socket.socket's name) also says it
        # blocks, but waits out an EAGAIN from MSG_DONTWAIT for ever: it keeps py-amqp's way.
        sock = self.sock
        return sock is not None and type(sock).__module__ == "socket" and sock.gettimeout() is None

    def _frame_buffered(self) -> bool:
        buffered = len(self._read_buffer)
        if buffered < _FRAME_HEADER.size:
            return False
        size: int = _FRAME_HEADER.unpack_from(self._read_buffer)[2]
        return buffered >= size + _FRAME_OVERHEAD


class Connection(pyamqp.Connection):
    """kombu's py-amqp connection on :class:`BufferedTCPTransport` (TLS keeps py-amqp's)."""

    def Transport(
        self,
        host: str,
        connect_timeout: float | None,
        ssl: Any = False,
        read_timeout: float | None = None,
        write_timeout: float | None = None,
        socket_settings: Any = None,
        **kwargs: Any,
    ) -> Any:
        if ssl:
            return super().Transport(
                host,
                connect_timeout,
                ssl=ssl,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                socket_settings=socket_settings,
                **kwargs,
            )
        return BufferedTCPTransport(
            host,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            socket_settings=socket_settings,
            **kwargs,
        )


class Transport(pyamqp.Transport):
    """kombu's RabbitMQ transport (``amqp://``) on :class:`Connection`; selected by ``broker_transport``."""

    Connection = Connection
