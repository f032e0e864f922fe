"""Malformed HTTP requests, generated: each gets a 4xx (or 501 for a method it does not know), and the emulator lives.

Raw bytes over a socket, so that nothing (requests, http.client) tidies them first: broken
request lines and headers, lengths that are not lengths, bodies that are not JSON, JSON
nested too deeply to parse, paths and queries with any byte.
"""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from sendx_worker.emulator import Emulator

API_PATHS = ["/api/v1/contact/identify", "/api/v1/contact/track", "/api/v1/rest/contact/identify", "/_emulator/stats"]
LATIN1 = st.text(st.characters(max_codepoint=255), max_size=20)
GOOD_HEADERS = ["Content-Type: application/json", "api_key: key-1", "X-Team-ApiKey: key-1"]


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def request(parts: dict[str, Any]) -> bytes:
    """The raw request from its parts; ``length`` "exact" is the body's real length."""
    lines = [f"{parts['method']} {parts['path']} {parts['version']}".strip(), *parts["headers"]]
    if parts["length"] is not None:
        length = len(parts["body"]) if parts["length"] == "exact" else parts["length"]
        lines.append(f"Content-Length: {length}")
    head: bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + parts["body"]


def part(name: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A breakage: one part of an otherwise well-formed request replaced."""
    return values.map(lambda value: lambda parts: {**parts, name: value})


BREAKAGES = st.one_of(
    part("method", st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "BREW", "G\x00T", "post", ""]) | LATIN1),
    part("path", st.sampled_from(["/", "*", "/_emulator/contacts/%ff%00", "/api/v1/contact/identify?team_id=%zz"])),
    part("path", LATIN1.map(lambda text: "/" + text)),
    part("version", st.sampled_from(["HTTP/2.0", "HTTP/1.1 extra", "", "http/1.1", "HTTP/0.9"])),
    st.lists(
        st.sampled_from(["Content-Type: text/plain", "Transfer-Encoding: chunked", "Expect: 100-continue"])
        | st.sampled_from([" folded: header", "no colon", ": no name", "x" * 70_000])
        | LATIN1,
        min_size=1,
        max_size=3,
    ).map(lambda extra: lambda parts: {**parts, "headers": [*parts["headers"], *extra]}),
    part("length", st.sampled_from([None, "", "many", "-1", "+5", " 5", "5 5", "²", "¹³", "0x10", "9" * 30, "1" * 19])),
    part("length", st.integers(0, 200).map(str)),  # shorter or longer than the body
    part(
        "body",
        st.sampled_from([b"", b"{", b"null", b"[]", b"NaN", b'{"email": NaN}', b'{"email": "\\ud800@x.com"}', b"\xff"])
        | st.binary(max_size=64)
        | st.integers(900, 5_000).map(nested)
        | st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3).map(
            lambda body: json.dumps(body).encode()
        ),
    ),
)
REQUESTS = st.tuples(st.sampled_from(API_PATHS), st.lists(BREAKAGES, min_size=1, max_size=2)).map(
    lambda drawn: request(
        _broken(
            {
                "method": "POST",
                "path": drawn[0],
                "version": "HTTP/1.1",
                "headers": GOOD_HEADERS,
                "length": "exact",
                "body": b'{"email": "john@example.com", "firstName": "John"}',
            },
            drawn[1],
        )
    )
)


def _broken(parts: dict[str, Any], breakages: list[Any]) -> dict[str, Any]:
    for breakage in breakages:
        parts = breakage(parts)
    return parts


def exchange(port: int, raw: bytes) -> bytes:
    """Send ``raw``, close our side, and read whatever the server answers until it closes.

    The server may answer and close before it has read everything (a bad request line):
    then sending fails, or reading ends in a reset; what arrived is the answer. A handler
    that crashed instead logs an error, which fails the test (conftest.no_emulator_errors).
    """
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        with contextlib.suppress(OSError):
            connection.sendall(raw)
            connection.shutdown(socket.SHUT_WR)  # a short body ends here rather than waiting for more
        with contextlib.suppress(ConnectionResetError):
            while chunk := connection.recv(65536):
                answer += chunk
    return answer


def status_of(answer: bytes) -> int:
    line = answer.split(b"\r\n", 1)[0].split(b" ")
    assert len(line) >= 2 and line[0] in (b"HTTP/1.0", b"HTTP/1.1"), answer[:200]
    return int(line[1])


def still_serving(emu: Emulator) -> None:
    assert requests.get(f"{emu.url}/_emulator/stats", timeout=10).status_code == 200


@settings(max_examples=3 * settings.default.max_examples)  # cheap: three times the profile's
@given(raw=REQUESTS)
def test_a_malformed_request_gets_a_4xx_and_the_emulator_lives(emu: Emulator, raw: bytes) -> None:
    answer = exchange(emu.port, raw)
    if answer:  # none when the server closed first (a blank request line, or a reset): see exchange()
        status = status_of(answer)
        assert status < 500 or status == 501, answer[:300]
    still_serving(emu)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"POST /api/v1/rest/contact/identify HTTP/1.1\r\nContent-Length: \xb2\r\n\r\n", 400),  # "²".isdigit()
        (b"POST /api/v1/rest/contact/identify HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", 400),
        (b"G\x00T /_emulator/stats HTTP/1.1\r\n\r\n", 400),
    ],
    ids=["superscript two", "5000 digits", "a method that is no token"],
)
def test_lengths_and_methods_that_are_not_what_they_seem_are_refused(emu: Emulator, raw: bytes, status: int) -> None:
    assert status_of(exchange(emu.port, raw)) == status
    still_serving(emu)


@pytest.mark.parametrize("path", ["/api/v1/rest/contact/identify", "/_emulator/faults"])
def test_json_nested_too_deeply_to_parse_is_a_4xx(emu: Emulator, path: str) -> None:
    body = nested(100_000)
    raw = (
        f"POST {path} HTTP/1.1\r\nX-Team-ApiKey: key-1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    assert status_of(exchange(emu.port, raw)) in (400, 422)
    still_serving(emu)
