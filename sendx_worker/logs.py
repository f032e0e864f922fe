"""Structured log lines: ``key=value`` by default, JSON on request.

Modules log through ``logging.getLogger(__name__)`` with a short event message and
the context in ``extra={"sendx": {...}}``; only entry points install
:func:`configure_logging`, which renders that context.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["CELERY_PER_TASK_LOGGERS", "JsonFormatter", "KeyValueFormatter", "configure_logging", "context", "kv"]


def kv(fields: Mapping[str, Any]) -> str:
    """Render ``fields`` as ``key=value`` pairs, quoting values that contain spaces."""
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        text = str(value)
        if not text or any(ch in text for ch in ' "='):
            text = json.dumps(text)
        parts.append(f"{key}={text}")
    return " ".join(parts)


def context(**fields: Any) -> dict[str, Any]:
    """The ``extra`` argument that attaches ``fields`` to a log record."""
    return {"sendx": fields}


class KeyValueFormatter(logging.Formatter):
    """``time level logger event key=value ...``"""

    def format(self, record: logging.LogRecord) -> str:
        fields: Mapping[str, Any] = getattr(record, "sendx", {})
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        if fields:
            line = f"{line} {kv(fields)}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class JsonFormatter(logging.Formatter):
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


def configure_logging(fmt: Literal["kv", "json"] = "kv", level: int = logging.INFO) -> None:
    """Install one stderr handler on the root logger with the chosen format.

    Above DEBUG, Celery's per-task lines are left out (:data:`CELERY_PER_TASK_LOGGERS`
    log at WARNING and up only); their warnings and errors still show.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in CELERY_PER_TASK_LOGGERS:
        # NOTSET: inherit the root's level again (configure_logging may run twice in a process).
        logging.getLogger(name).setLevel(logging.NOTSET if level <= logging.DEBUG else max(level, logging.WARNING))
