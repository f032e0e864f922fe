"""Plain-text tables and a progress line that behaves on a terminal and in a log file."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TextIO

__all__ = ["Progress", "cell", "printable", "table"]

# Wide enough for an e-mail address or an error's gist; longer cells are cut with "…".
DEFAULT_MAX_WIDTH = 60
BAR_WIDTH = 30
# Without a terminal a line is printed per change, at most this often, so a log stays short.
PLAIN_INTERVAL_S = 1.0


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (escape sequences), lone surrogates and other
    invisible characters are shown as Python escapes (``\\x1b``), never sent to the terminal as they are."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def _escaped(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def cell(value: object) -> str:
    """A value as a table shows it: None as "-", lists joined by ", ", on one line, escaped."""
    if value is None or value == "":
        return "-"
    if isinstance(value, list | tuple):
        return printable(", ".join(str(item) for item in value)) or "-"
    if isinstance(value, dict):
        return printable(", ".join(f"{key}={item}" for key, item in value.items())) or "-"
    return printable(" ".join(str(value).split()))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, max_width: int = DEFAULT_MAX_WIDTH) -> str:
    """Left-aligned columns under upper-case headers, separated by two spaces."""
    texts = [[_cut(cell(value), max_width) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in texts:
        for index, text in enumerate(row):
            widths[index] = max(widths[index], len(text))
    lines = [_line([header.upper() for header in headers], widths)]
    lines.extend(_line(row, widths) for row in texts)
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(text.ljust(width) for text, width in zip(cells, widths, strict=True)).rstrip()


class Progress:
    """``[#####-----] 12/20 delivered ...``: redrawn in place on a terminal, else a line per change."""

    def __init__(self, stream: TextIO, total: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._total = max(total, 1)
        self._clock = clock
        self._interactive = stream.isatty()
        self._last_text = ""
        self._last_at = float("-inf")

    def update(self, done: int, detail: str) -> None:
        """Show ``done`` of the total, with ``detail`` after the bar."""
        text = self._render(done, detail)
        if text == self._last_text:
            return
        if self._interactive:
            self._stream.write("\r" + text.ljust(len(self._last_text)))
            self._stream.flush()
        elif self._clock() - self._last_at >= PLAIN_INTERVAL_S:
            self._stream.write(text + "\n")
            self._stream.flush()
            self._last_at = self._clock()
        else:
            return  # not shown yet: the next change or finish() shows it
        self._last_text = text

    def finish(self, done: int, detail: str) -> None:
        """Show the final state and end the line."""
        text = self._render(done, detail)
        if self._interactive:
            self._stream.write("\r" + text.ljust(len(self._last_text)) + "\n")
        elif text != self._last_text:
            self._stream.write(text + "\n")
        self._stream.flush()
        self._last_text = text

    def _render(self, done: int, detail: str) -> str:
        filled = min(BAR_WIDTH, BAR_WIDTH * done // self._total)
        return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{self._total} {detail}"
