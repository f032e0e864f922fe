"""The chunked AMQP reader: the same frames as py-amqp's, whatever the socket's chunking and timeouts.

A real socket pair; the peer writes a stream of AMQP frames in arbitrary pieces, and
the reader reads with kombu's ``timeout=0`` pattern (a read that would block raises
``socket.timeout``, the caller comes back when there is more). Every frame must come
out whole, in order, exactly once, and what was read before a timeout is kept.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
from collections.abc import Iterator

import pytest
from amqp.exceptions import UnexpectedFrame
from amqp.transport import TCPTransport
from hypothesis import given, settings
from hypothesis import strategies as st

from sendx_worker.buffered_amqp import READ_CHUNK, BufferedTCPTransport

Frame = tuple[int, int, bytes]

frames = st.lists(
    st.tuples(
        st.sampled_from([1, 2, 3, 8]),
        st.integers(0, 0xFFFF),
        st.one_of(st.binary(max_size=64), st.binary(min_size=READ_CHUNK - 50, max_size=READ_CHUNK + 50)),
    ),
    min_size=1,
    max_size=12,
)


def wire(frame: Frame) -> bytes:
    kind, channel, payload = frame
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce"


def attached(transport_class: type[TCPTransport], sock: socket.socket) -> TCPTransport:
    """A transport over ``sock``, connected as py-amqp would leave it after its handshake."""
    transport = transport_class("127.0.0.1:5672")
    transport.sock = sock
    transport._setup_transport()
    transport.connected = True
    return transport


@pytest.fixture
def reading() -> Iterator[tuple[TCPTransport, socket.socket]]:
    """A buffered transport reading one end of a socket pair, and the other end to write to."""
    reader, writer = socket.socketpair()
    yield attached(BufferedTCPTransport, reader), writer
    reader.close()
    writer.close()


def read_available(transport: TCPTransport) -> list[Frame]:
    """Every frame readable now, as kombu's reader drains them (``drain_events(timeout=0)`` until it times out)."""
    got: list[Frame] = []
    while True:
        try:
            with transport.having_timeout(0):
                got.append(transport.read_frame())
        except TimeoutError:
            return got


@settings(max_examples=60, deadline=None)
@given(sent=frames, cuts=st.lists(st.integers(1, 3 * READ_CHUNK), max_size=20))
def test_every_frame_comes_out_whole_and_in_order_however_the_stream_is_cut(sent: list[Frame], cuts: list[int]) -> None:
    reader, writer = socket.socketpair()
    try:
        writer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * READ_CHUNK)
        transport = attached(BufferedTCPTransport, reader)
        stream = b"".join(wire(frame) for frame in sent)
        got: list[Frame] = []
        position = 0
        for cut in [*cuts, len(stream)]:
            piece = stream[position : position + cut]
            position += len(piece)
            writer.sendall(piece)
            got += read_available(transport)
            if position >= len(stream):
                break
        assert got == sent
        assert read_available(transport) == []  # nothing left over, nothing made up
    finally:
        reader.close()
        writer.close()


def test_a_buffered_frame_is_read_without_touching_the_sockets_timeout(
    reading: tuple[TCPTransport, socket.socket],
) -> None:
    transport, writer = reading
    writer.sendall(wire((1, 1, b"first")) + wire((3, 1, b"second")))
    with transport.having_timeout(0):
        assert transport.read_frame() == (1, 1, b"first")
    # The second frame came in the same read: it is in the buffer, and the socket's
    # timeout (py-amqp's blocking mode: None) is left as it is while it is read.
    transport.sock.settimeout(None)
    with transport.having_timeout(0) as sock:
        assert sock.gettimeout() is None
        assert transport.read_frame() == (3, 1, b"second")
    # Nothing buffered: a read that must not block is one non-blocking recv, and the
    # socket stays as it was (py-amqp switched it to non-blocking and back).
    with pytest.raises(socket.timeout), transport.having_timeout(0) as sock:
        assert sock.gettimeout() is None
        transport.read_frame()
    # A socket with a timeout of its own gets py-amqp's treatment.
    transport.sock.settimeout(30)
    with pytest.raises(socket.timeout), transport.having_timeout(0) as sock:
        assert sock.gettimeout() == 0
        transport.read_frame()
    assert transport.sock.gettimeout() == 30


def test_a_closed_peer_and_a_corrupt_frame_raise_as_py_amqps_own_reader_does(
    reading: tuple[TCPTransport, socket.socket],
) -> None:
    transport, writer = reading
    writer.sendall(wire((1, 1, b"ok"))[:-1] + b"\x00")  # a wrong frame-end octet
    with pytest.raises(UnexpectedFrame):
        transport.read_frame()
    writer.close()
    with pytest.raises(OSError, match="unexpectedly closed"):
        transport.read_frame()


def test_reads_the_same_frames_as_py_amqps_reader() -> None:
    sent = [(1, 0, b"a" * 10), (2, 5, b""), (3, 7, bytes(range(256)) * 40)]
    outcomes = []
    for transport_class in (TCPTransport, BufferedTCPTransport):
        reader, writer = socket.socketpair()
        try:
            transport = attached(transport_class, reader)
            writer.sendall(b"".join(wire(frame) for frame in sent))
            outcomes.append([transport.read_frame() for _ in sent])
        finally:
            reader.close()
            writer.close()
    assert outcomes[0] == outcomes[1] == sent


GREEN_READER = """
import gevent.monkey

gevent.monkey.patch_all()

import socket
import struct

from sendx_worker.buffered_amqp import BufferedTCPTransport

reader, writer = socket.socketpair()
transport = BufferedTCPTransport("127.0.0.1:5672")
transport.sock = reader
transport._setup_transport()
transport.connected = True
writer.sendall(struct.pack(">BHI", 1, 1, 5) + b"hello" + b"\\xce")
with transport.having_timeout(2.0):
    print(transport.read_frame())
try:
    with transport.having_timeout(0):
        transport.read_frame()
except TimeoutError:
    print("would block")
"""


def test_under_gevent_a_read_that_must_not_block_does_not_block() -> None:
    # gevent's socket says it blocks, and waits out MSG_DONTWAIT's EAGAIN for ever: the
    # gevent pool's worker stalled on its first read (seen in `python -m bench smoke`).
    pytest.importorskip("gevent")  # the bench extra's, which CI installs
    done = subprocess.run([sys.executable, "-c", GREEN_READER], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["(1, 1, b'hello')", "would block"]
