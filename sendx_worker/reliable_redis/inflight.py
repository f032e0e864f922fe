"""In-flight lists: where a taken message waits, owned by a live consumer, until it is recorded.

The keys, the owner's sign of life, and the script that moves an orphaned list's
messages back onto their queue. Pure Redis, no kombu.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kombu.utils.encoding import bytes_to_str

__all__ = [
    "DEFAULT_OWNER_TTL_S",
    "INFLIGHT_LIST_PREFIX",
    "INFLIGHT_OWNER_PREFIX",
    "INFLIGHT_REGISTRY",
    "InFlight",
    "inflight_list_key",
    "owner_key",
    "owner_of",
    "restore_list",
    "restore_orphans",
]

logger = logging.getLogger(__name__)

#: Hash of every in-flight list: list key -> the queue list its messages came from.
INFLIGHT_REGISTRY = "_kombu.inflight"
INFLIGHT_LIST_PREFIX = "_kombu.inflight.list."
INFLIGHT_OWNER_PREFIX = "_kombu.inflight.owner."
DEFAULT_OWNER_TTL_S = 30.0

# Moves every message of an in-flight list back onto its queue and forgets the
# list, unless its owner is alive (ARGV[1] == "force" skips that check: the owner
# itself closing). One script, so no other client sees the list half-restored.
_RESTORE_SCRIPT = """
if ARGV[1] ~= 'force' and redis.call('EXISTS', KEYS[4]) == 1 then
  return -1
end
local moved = 0
while redis.call('LMOVE', KEYS[2], KEYS[3], 'LEFT', 'RIGHT') do
  moved = moved + 1
end
redis.call('HDEL', KEYS[1], KEYS[2])
redis.call('DEL', KEYS[4])
return moved
"""


@dataclass(frozen=True)
class InFlight:
    """A message moved onto an in-flight list and not yet recorded as unacknowledged."""

    list_key: str
    source: str
    item: bytes
    payload: Any


def owner_key(owner: str) -> str:
    """The key whose presence says the owner of an in-flight list is alive."""
    return INFLIGHT_OWNER_PREFIX + owner


def inflight_list_key(owner: str, source: str) -> str:
    """The in-flight list of ``owner`` for messages taken from the list ``source``."""
    return f"{INFLIGHT_LIST_PREFIX}{owner}.{source}"


def owner_of(list_key: str) -> str:
    """The owner named in an in-flight list's key."""
    return list_key[len(INFLIGHT_LIST_PREFIX) :].split(".", 1)[0]


def restore_orphans(client: Any) -> int:
    """Move the messages of in-flight lists whose owner is gone back onto their queues.

    Returns how many messages were moved. Safe to run from every consumer at once:
    each list is restored by one script, and a restored list is forgotten.
    """
    restored = 0
    for raw_key, raw_source in client.hgetall(INFLIGHT_REGISTRY).items():
        list_key, source = bytes_to_str(raw_key), bytes_to_str(raw_source)
        moved = restore_list(client, list_key, source, force=False)
        if moved > 0:
            logger.warning("moved %d message(s) taken by a consumer that is gone back onto %s", moved, source)
            restored += moved
    return restored


def restore_list(client: Any, list_key: str, source: str, *, force: bool) -> int:
    """Move one in-flight list back onto ``source`` unless its owner lives (``force``: regardless)."""
    keys = [INFLIGHT_REGISTRY, list_key, source, owner_key(owner_of(list_key))]
    moved: int = client.eval(_RESTORE_SCRIPT, len(keys), *keys, "force" if force else "check")
    return moved
