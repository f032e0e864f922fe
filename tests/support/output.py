"""A subprocess's output, collected line by line by a thread as it is written."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path


class CollectedOutput:
    """The lines read from ``stream`` so far, each also appended to ``copy_to`` if given."""

    def __init__(self, stream: Iterable[str], copy_to: Path | None = None) -> None:
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream, copy_to), daemon=True)
        self._thread.start()

    def _read(self, stream: Iterable[str], copy_to: Path | None) -> None:
        sink = copy_to.open("a") if copy_to else None
        try:
            for line in stream:
                with self._lock:
                    self._lines.append(line)
                if sink:
                    sink.write(line)
                    sink.flush()
        finally:
            if sink:
                sink.close()

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def text(self) -> str:
        return "".join(self.lines)

    def join(self, timeout: float) -> None:
        """Wait for the stream's end (the process exited and its output is all read)."""
        self._thread.join(timeout=timeout)
