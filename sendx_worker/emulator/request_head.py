"""A lean reader of HTTP request headers.

``http.server`` parses headers with the ``email`` package, which costs about six times
as much as this and was the largest part of the emulator's time per request.
"""

from __future__ import annotations

from typing import BinaryIO

__all__ = ["HeaderError", "Headers", "read_headers"]

_MAX_LINE = 65536
_MAX_HEADERS = 100
_END = (b"\r\n", b"\n", b"")


class HeaderError(ValueError):
    """Raised when a request's header block is malformed (400) or too large (431)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Headers:
    """Request headers: looked up case-insensitively, listed as the client spelled them."""

    __slots__ = ("_by_name", "_items")

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items
        self._by_name = {name.lower(): value for name, value in items}

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of header ``name`` (the last one if repeated), or ``default``."""
        return self._by_name.get(name.lower(), default)

    def as_dict(self) -> dict[str, str]:
        """The headers as sent, name -> value (the last one if repeated)."""
        return dict(self._items)


def read_headers(stream: BinaryIO) -> Headers:
    """Read header lines up to the blank line that ends them."""
    items: list[tuple[str, str]] = []
    while True:
        line = stream.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise HeaderError(431, "a header line is too long")
        if line in _END:
            return Headers(items)
        if len(items) >= _MAX_HEADERS:
            raise HeaderError(431, "too many headers")
        name, colon, value = line.decode("iso-8859-1").partition(":")
        if not colon or not name or name != name.strip():
            raise HeaderError(400, "a header line is malformed")
        items.append((name, value.strip()))
