"""Every task message checked before Celery reads it: what Celery cannot survive is refused.

Celery trusts a task message's shape. A body that is JSON ``null`` or a bare string, a
missing ``id`` header, a ``task`` header that is a list, a ``timelimit`` that is not a
pair: each made Celery's consumer raise and the worker exit ("Unrecoverable error"),
after which the message went back and killed the next worker. Others were acknowledged
with nothing done (kwargs that are not an object, a non-numeric ``retries``), held
forever (an ``embed`` that is not an object) or ran one of Celery's own tasks.

:func:`refusal_of` checks what Celery (and the task) will read, without recursing into
the body; the consumer dead-letters a refused message as ``invalid_payload``. It accepts
exactly Celery's task protocol 2, JSON, for ``sendx.identify_contact`` and
``sendx.track_tags``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from celery.utils.time import maybe_iso8601

from ..jsonsafe import as_text, too_deep
from ..limits import MAX_DEPTH, MAX_HEADER_TEXT, MAX_MESSAGE_BYTES, MAX_TASK_ID
from .envelope import UNREADABLE_HEADER, is_unreadable

__all__ = ["ALLOWED_KWARGS", "BODY_DEPTH", "SENDX_TASKS", "Refusal", "refusal_of"]

SENDX_TASKS = frozenset({"sendx.identify_contact", "sendx.track_tags"})
#: The task's keyword arguments; their values are checked by the task itself.
ALLOWED_KWARGS = frozenset({"payload", "team", "occurred_at"})
#: The body ``[args, {"payload": ...}, embed]`` adds two levels above the payload.
BODY_DEPTH = MAX_DEPTH + 2

_JSON_TYPES = ("application/json",)
_UTF8 = (None, "", "utf-8", "utf8")
# Celery's embedded signatures: callbacks, errbacks, a chain, a chord. They would run
# other tasks after ours; nothing that enqueues for sendx-worker sets them.
_EMBED_KEYS = ("callbacks", "errbacks", "chain", "chord")
# Headers Celery reads as text when present.
_TEXT_HEADERS = ("root_id", "parent_id", "group", "lang", "origin", "argsrepr", "kwargsrepr", "shadow")
# Protocol 2 headers are read with these shapes; None is always allowed.
_MAX_RETRIES = 1_000_000


@dataclass(frozen=True)
class Refusal:
    """Why a message is refused, and its decoded body when it had one."""

    error: str
    body: Any = None


def refusal_of(message: Any, *, now: float, max_eta_ahead_s: float) -> Refusal | None:
    """None when Celery can run ``message`` safely; otherwise why not.

    ``max_eta_ahead_s``: how far in the future an ``eta`` may be; a message held longer
    than that would be redelivered by the broker while its worker still holds it.
    """
    headers = message.headers
    if is_unreadable(headers, message.content_type):
        return Refusal(as_text(headers[UNREADABLE_HEADER], 1000))
    if not isinstance(headers, Mapping) or "task" not in headers:
        return Refusal("not a Celery task message: no 'task' header (Celery's task protocol 2 is required)")
    problem = _header_problem(headers, now=now, max_eta_ahead_s=max_eta_ahead_s)
    if problem is not None:
        return Refusal(problem)
    problem = _content_problem(message)
    if problem is not None:
        return Refusal(problem)
    try:
        body = message.decode()
    except Exception as exc:  # kombu wraps decoder errors (bad UTF-8, bad JSON, too deep) in DecodeError
        return Refusal(f"cannot decode the message body as JSON: {as_text(str(exc), 300)}")
    raw = None if headers.get("compression") else message.body  # compressed bytes tell nothing
    problem = _body_problem(body, _brackets(raw))
    return None if problem is None else Refusal(problem, body)


def _brackets(raw: Any) -> int | None:
    """How many ``[`` and ``{`` the raw JSON holds (None: unknown): no decoded value nests deeper."""
    if isinstance(raw, bytes):
        return raw.count(b"[") + raw.count(b"{")
    if isinstance(raw, str):
        return raw.count("[") + raw.count("{")
    return None


def _header_problem(headers: Mapping[str, Any], *, now: float, max_eta_ahead_s: float) -> str | None:
    task = headers["task"]
    if not isinstance(task, str) or task not in SENDX_TASKS:
        return f"unknown task {as_text(task, MAX_HEADER_TEXT)!r}: this worker runs {' and '.join(sorted(SENDX_TASKS))}"
    task_id = headers.get("id")
    if not isinstance(task_id, str) or not 0 < len(task_id) <= MAX_TASK_ID or not task_id.isprintable():
        return f"the 'id' header must be a task id: printable text of 1 to {MAX_TASK_ID} characters"
    for name in _TEXT_HEADERS:
        if not isinstance(headers.get(name), str | None):
            return f"the {name!r} header must be text or null"
    retries = headers.get("retries")
    if retries is not None and (not _is_int(retries) or not 0 <= retries <= _MAX_RETRIES):
        return f"the 'retries' header must be a whole number from 0 to {_MAX_RETRIES}"
    timelimit = headers.get("timelimit")
    if timelimit is not None and not _is_time_limit(timelimit):
        return "the 'timelimit' header must be a pair [hard, soft] of seconds or nulls"
    if not isinstance(headers.get("ignore_result"), bool | None):
        return "the 'ignore_result' header must be true, false or null"
    # Celery's stamping: read (and iterated) whenever the worker checks for revoked tasks.
    stamped = headers.get("stamped_headers")
    if stamped is not None and not (isinstance(stamped, list) and all(isinstance(name, str) for name in stamped)):
        return "the 'stamped_headers' header must be a list of header names or null"
    if not isinstance(headers.get("stamps"), Mapping | None):
        return "the 'stamps' header must be an object or null"
    for name in _EMBED_KEYS:
        if headers.get(name):
            return f"the {name!r} header is not supported: only sendx tasks run here"
    expires = _moment(headers.get("expires"))
    if isinstance(expires, str):
        return f"the 'expires' header {expires}"
    if expires is not None and expires < now:
        return "the message expired (its 'expires' header) before a worker received it"
    eta = _moment(headers.get("eta"))
    if isinstance(eta, str):
        return f"the 'eta' header {eta}"
    if eta is not None and eta - now > max_eta_ahead_s:
        return (
            f"the 'eta' header is {eta - now:.0f} s ahead; at most {max_eta_ahead_s:.0f} s "
            "(SENDX_RETRY_CAP_S + 60 s): a message held longer is redelivered while its worker holds it"
        )
    return None


def _content_problem(message: Any) -> str | None:
    content_type = message.content_type
    if content_type not in _JSON_TYPES:
        shown = as_text(content_type, MAX_HEADER_TEXT) if content_type else "none"
        return f"content type {shown!r}: only application/json is accepted (never pickle)"
    encoding = message.content_encoding
    if not (encoding is None or (isinstance(encoding, str) and encoding.lower() in _UTF8)):
        return f"content encoding {as_text(encoding, MAX_HEADER_TEXT)!r}: only utf-8 is accepted"
    size = len(message.body) if isinstance(message.body, bytes | str) else 0
    if size > MAX_MESSAGE_BYTES:
        return f"the message body is {size} bytes; at most {MAX_MESSAGE_BYTES} are accepted"
    return None


def _body_problem(body: Any, brackets: int | None = None) -> str | None:
    if not isinstance(body, list) or len(body) != 3:
        return "the body must be Celery's [args, kwargs, embed] (task protocol 2)"
    args, kwargs, embed = body
    if not isinstance(args, list):
        return "args (the body's first element) must be an array"
    if not isinstance(kwargs, dict):
        return "kwargs (the body's second element) must be an object"
    if not isinstance(embed, dict | None):
        return "embed (the body's third element) must be an object or null"
    if embed and any(key not in _EMBED_KEYS or embed[key] for key in embed):
        return "callbacks, errbacks, chains and chords are not supported: only sendx tasks run here"
    unknown = sorted(as_text(name, 100) for name in kwargs if name not in ALLOWED_KWARGS)
    if unknown:
        return f"unknown keyword argument(s): {', '.join(unknown)} (the task takes payload, team, occurred_at)"
    # Walking the body is skipped when its text cannot nest that deep (every message a
    # producer sends: a few brackets); the walk cost ~2 % of a worker's CPU per task.
    deep = None if brackets is not None and brackets <= BODY_DEPTH else _deep_path(body)
    if deep is not None:
        return f"{deep}: nested deeper than {MAX_DEPTH} levels (the limit)"
    return None


def _deep_path(body: list[Any]) -> str | None:
    path = too_deep(body, BODY_DEPTH)
    if path is None:
        return None
    # Name it as the task sees it: [1].payload.x -> payload.x
    return path.removeprefix("[1].") if path.startswith("[1].") else f"the body{path}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_time_limit(value: Any) -> bool:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return False
    return all(
        item is None
        or (isinstance(item, int | float) and not isinstance(item, bool) and math.isfinite(item) and item >= 0)
        for item in value
    )


def _moment(value: Any) -> float | str | None:
    """A header time as a POSIX timestamp; a str says what is wrong; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif not isinstance(value, str) or len(value) > 64:
        return "must be an ISO 8601 time"
    else:
        try:
            moment = maybe_iso8601(value)  # Celery's own parsing
        except (ValueError, OverflowError, TypeError):
            return "must be an ISO 8601 time"
    try:
        # Celery reads a naive time as UTC (its default); converting it must not overflow.
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        timestamp = aware.timestamp()
        aware.astimezone()
    except (OverflowError, ValueError, OSError):
        return "is out of range"
    return timestamp
