"""Structured log lines: ``key=value`` by default, JSON on request.

Modules log through ``logging.getLogger(__name__)`` with a short event message and
the context in ``extra={"sendx": {...}}``; only entry points install
:func:`configure_logging`, which renders that context.

A worker logs one line per task from up to 64 threads. Each written and flushed by
its own thread, the lines queued up on the handler's lock while one of them was in
the ``write`` (most of a line's cost, docs/BENCHMARKS.md); so in the worker
(``batched=True``) a thread only formats its line and appends it to a batch, taking no
lock, and the batch is written out every :data:`FLUSH_S` (at once for a WARNING or worse).
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, Literal

__all__ = [
    "CELERY_PER_TASK_LOGGERS",
    "FLUSH_S",
    "JsonFormatter",
    "KeyValueFormatter",
    "configure_logging",
    "context",
    "kv",
]

# How long an INFO line may wait in a batched handler before it is written.
FLUSH_S = 0.1


def kv(fields: Mapping[str, Any]) -> str:
    """Render ``fields`` as ``key=value`` pairs, quoting values that contain spaces."""
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        text = value if type(value) is str else str(value)
        if not text or " " in text or '"' in text or "=" in text:
            text = json.dumps(text)
        parts.append(f"{key}={text}")
    return " ".join(parts)


def context(**fields: Any) -> dict[str, Any]:
    """The ``extra`` argument that attaches ``fields`` to a log record."""
    return {"sendx": fields}


class _Formatter(logging.Formatter):
    """``formatTime`` as logging's default, its ``strftime`` done once per second rather than per line."""

    _second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        whole = int(record.created)
        second, text = self._second
        if second != whole:
            text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = (whole, text)  # one tuple: threads see the old pair or the new one
        return f"{text},{int(record.msecs):03d}"


class KeyValueFormatter(_Formatter):
    """``time level logger event key=value ...``"""

    def format(self, record: logging.LogRecord) -> str:
        fields: Mapping[str, Any] = getattr(record, "sendx", {})
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        if fields:
            line = f"{line} {kv(fields)}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class JsonFormatter(_Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        data.update(getattr(record, "sendx", {}))
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


# Celery's per-task lines: "Task ... received" and "Task ... succeeded in ...s". Our own
# `delivered` line (INFO, e-mail masked, with the latency) says the same, and the two
# cost 9% of a worker's CPU (docs/BENCHMARKS.md). They are shown at DEBUG only.
CELERY_PER_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


class _BatchingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Formats each record in the calling thread and keeps the line; writes the lines out in batches.

    A batch is written every :data:`FLUSH_S` by a thread of its own, at once for a
    WARNING or worse, and when logging shuts down at exit (``logging.shutdown``
    flushes every handler). Before a fork what it holds is written, so that the child
    does not write it again; the child gets a writing thread of its own.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        # Appended to by the logging threads without a lock (deque.append is atomic),
        # emptied from the left by the one writing under the handler's lock.
        self._lines: collections.deque[str] = collections.deque()
        self._stopped = threading.Event()
        self._start_writer()
        os.register_at_fork(before=self.flush, after_in_child=self._after_fork)

    def handle(self, record: logging.LogRecord) -> bool:
        if not self.filter(record):
            return False
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return False
        self._lines.append(line)
        if record.levelno >= logging.WARNING:
            self.flush()
        return True

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # one writer at a time: batches stay in order
            lines, take = [], self._lines.popleft
            with contextlib.suppress(IndexError):
                while True:
                    lines.append(take())
            if lines:
                self.stream.write("\n".join(lines) + "\n")
            super().flush()

    def close(self) -> None:
        self._stopped.set()
        super().close()

    def _after_fork(self) -> None:
        if not self._stopped.is_set():  # a handler replaced since is closed: no thread for it
            self._start_writer()

    def _start_writer(self) -> None:
        threading.Thread(target=self._write_batches, name="sendx-log-writer", daemon=True).start()

    def _write_batches(self) -> None:
        while not self._stopped.wait(FLUSH_S):
            self.flush()


def configure_logging(fmt: Literal["kv", "json"] = "kv", level: int = logging.INFO, *, batched: bool = False) -> None:
    """Install one stderr handler on the root logger with the chosen format.

    Above DEBUG, Celery's per-task lines are left out (:data:`CELERY_PER_TASK_LOGGERS`
    log at WARNING and up only); their warnings and errors still show. ``batched``
    (the worker): lines are written in batches every :data:`FLUSH_S`, a WARNING or
    worse at once, rather than each by the thread that logs it while the others wait.
    """
    handler = _BatchingHandler(sys.stderr) if batched else logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
        if isinstance(existing, _BatchingHandler):
            existing.close()
    root.addHandler(handler)
    root.setLevel(level)
    for name in CELERY_PER_TASK_LOGGERS:
        # NOTSET: inherit the root's level again (configure_logging may run twice in a process).
        logging.getLogger(name).setLevel(logging.NOTSET if level <= logging.DEBUG else max(level, logging.WARNING))
