"""The marshmallow schemas of SendX's identify and track payloads.

Each schema has a Python side (snake_case, what ``identify()``/``track()``
accept) and a wire side (camelCase, what travels on the queue and to SendX),
sharing one set of rules. The producer calls ``identify_payload``/``track_payload``;
the worker calls ``load_identify_wire``/``load_track_wire`` on what it receives.
"""

from __future__ import annotations

from .describe import describe_errors
from .fields import INCREMENT_PATTERN, is_increment
from .identify import IdentifySchema, IdentifyWireSchema, identify_payload, load_identify_wire
from .track import TrackSchema, TrackWireSchema, load_track_wire, track_payload

__all__ = [
    "INCREMENT_PATTERN",
    "IdentifySchema",
    "IdentifyWireSchema",
    "TrackSchema",
    "TrackWireSchema",
    "describe_errors",
    "identify_payload",
    "is_increment",
    "load_identify_wire",
    "load_track_wire",
    "track_payload",
]
