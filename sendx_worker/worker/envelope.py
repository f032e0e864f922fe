"""The envelope of a message on Redis and the embedded broker, checked before kombu reads it.

kombu's virtual transports keep each message as a JSON object (its body, headers and
properties). An item on a queue that is not such an object (another program's raw
push, a ``5``, a truncated file) made kombu raise in the worker's main loop, which
killed the worker; and the item went back for the next worker to die on. Here such an
item is wrapped in an envelope of its own whose body is the item's raw bytes, so that
the consumer dead-letters it as ``invalid_payload`` like any other unreadable message.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from typing import Any

from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

__all__ = ["UNREADABLE_CONTENT_TYPE", "UNREADABLE_HEADER", "envelope_problem", "read_envelope", "wrap_unreadable"]

#: The content type of a wrapped item; the consumer dead-letters it with the reason below.
UNREADABLE_CONTENT_TYPE = "application/x-sendx-unreadable"
#: The header of a wrapped item that says why it could not be read.
UNREADABLE_HEADER = "x-sendx-unreadable"


def read_envelope(raw: bytes | str, queue: str) -> dict[str, Any]:
    """The kombu envelope ``raw`` holds, or, when it holds none, one wrapping ``raw``."""
    try:
        payload = loads(bytes_to_str(raw))
    except Exception as exc:  # kombu's JSON decoder: ValueError, RecursionError, a bad __type__ marker
        return wrap_unreadable(raw, f"not JSON ({type(exc).__name__})", queue)
    problem = envelope_problem(payload)
    if problem is not None:
        return wrap_unreadable(raw, problem, queue)
    result: dict[str, Any] = payload
    return result


def envelope_problem(payload: Any) -> str | None:
    """What keeps kombu from reading ``payload`` as a message, or None when it can."""
    if not isinstance(payload, dict):
        return f"a JSON {type(payload).__name__}, not a kombu message object"
    properties = payload.get("properties")
    if not isinstance(properties, dict):
        return "a JSON object without kombu's 'properties'"
    tag = properties.get("delivery_tag")
    if not isinstance(tag, str | int) or isinstance(tag, bool):
        return "no delivery_tag in its properties"
    info = properties.get("delivery_info")
    if not isinstance(info, dict) or not all(isinstance(info.get(key), str) for key in ("exchange", "routing_key")):
        return "no delivery_info (exchange, routing_key) in its properties"
    if not isinstance(payload.get("headers"), dict | None):
        return "headers that are not an object"
    for key in ("content-type", "content-encoding"):
        if not isinstance(payload.get(key), str | None):
            return f"a {key} that is not a string"
    body = payload.get("body")
    if not isinstance(body, str | None):
        return "a body that is not a string"
    encoding = properties.get("body_encoding")
    if encoding not in (None, "base64"):
        return "a body_encoding other than base64"
    if encoding == "base64" and body:
        try:
            base64.b64decode(body.encode("utf-8", "surrogatepass"), validate=True)
        except (binascii.Error, ValueError):
            return "a body that is not valid base64"
    return None


def wrap_unreadable(raw: bytes | str, reason: str, queue: str) -> dict[str, Any]:
    """An envelope kombu can read whose body is ``raw`` and whose header says ``reason``."""
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    return {
        "body": base64.b64encode(data).decode("ascii"),
        "content-type": UNREADABLE_CONTENT_TYPE,
        "content-encoding": "binary",
        "headers": {UNREADABLE_HEADER: f"the item on queue {queue!r} is {reason}"},
        "properties": {
            "body_encoding": "base64",
            "delivery_tag": uuid.uuid4().hex,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "delivery_mode": 2,
            "priority": 0,
        },
    }


def is_unreadable(headers: Mapping[str, Any] | None, content_type: str | None) -> bool:
    """True for an envelope made by :func:`wrap_unreadable`."""
    return content_type == UNREADABLE_CONTENT_TYPE and isinstance(headers, Mapping) and UNREADABLE_HEADER in headers
