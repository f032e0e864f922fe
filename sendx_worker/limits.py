"""The limits on what a message may hold, named once for the producer, the worker and the docs.

Each limit is enforced twice: ``identify()``/``track()`` raise a ``ValidationError``
naming the field and the limit, and a worker dead-letters a message that breaks one
as ``invalid_payload`` with the same words. README.md ("Limits") explains the choices.
"""

from __future__ import annotations

__all__ = [
    "MAX_CUSTOM_FIELDS",
    "MAX_CUSTOM_FIELD_VALUE",
    "MAX_DEPTH",
    "MAX_EMAIL",
    "MAX_HEADER_TEXT",
    "MAX_KWARGSREPR",
    "MAX_MESSAGE_BYTES",
    "MAX_NAME",
    "MAX_PAYLOAD_BYTES",
    "MAX_RAW_BODY_TEXT",
    "MAX_TAGS",
    "MAX_TASK_ID",
    "MAX_TEAM",
    "team_problem",
]

#: SendX's REST contact model caps first and last name, company and tag names at 255
#: characters; custom field names are held to the same.
MAX_NAME = 255
#: An e-mail address: RFC 5321's longest forward path (and what the emulator takes).
MAX_EMAIL = 254
#: A custom field value, in characters. SendX documents no limit; 64 Ki characters holds
#: any plausible note or address while keeping one value far below the payload limit.
MAX_CUSTOM_FIELD_VALUE = 65_536
#: Custom fields in one identify, and tags in one list (``tags``, ``addTags``,
#: ``removeTags``). A real update names a handful; a thousand is a bug or an import
#: that should be batched differently.
MAX_CUSTOM_FIELDS = 1_000
MAX_TAGS = 1_000
#: The payload as JSON (kombu's encoding, non-ASCII escaped), in bytes.
MAX_PAYLOAD_BYTES = 256 * 1024
#: A whole task message body: the payload plus the rest of the kwargs and Celery's
#: envelope, with room to spare. Checked before the body is decoded.
MAX_MESSAGE_BYTES = MAX_PAYLOAD_BYTES + 16 * 1024
#: How deeply JSON may nest inside a payload (a valid one nests 2 levels: the object,
#: then ``customFields`` or a tag list). Deeper input is refused before anything recurses.
MAX_DEPTH = 32
#: A team name (a key of ``SENDX_TEAMS``).
MAX_TEAM = 64
#: A Celery task id (Celery makes 36-character UUIDs).
MAX_TASK_ID = 255
#: Text taken from a message header into a dead letter or a log line.
MAX_HEADER_TEXT = 255
#: The raw body a dead letter keeps as text when the message could not be read.
MAX_RAW_BODY_TEXT = 64 * 1024
#: ``kwargsrepr``, the masked text of a task's arguments that travels in a message header
#: (AMQP headers must fit in one frame) and shows in logs and Flower.
MAX_KWARGSREPR = 1024


def team_problem(team: object) -> str | None:
    """What is wrong with ``team`` as a team name, or None: 1 to 64 printable characters, not blank."""
    if not isinstance(team, str):
        return "Must be a string (a team name from SENDX_TEAMS)."
    if not team.strip() or len(team) > MAX_TEAM or not team.isprintable():
        return f"Must be a team name of 1 to {MAX_TEAM} printable characters, not blank."
    return None
