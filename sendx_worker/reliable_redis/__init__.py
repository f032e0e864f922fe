"""kombu's Redis transport without the moment in which a taken message can be lost.

kombu takes a message off its list with ``BRPOP`` and only then, in a second round
trip, records it as unacknowledged (the ``unacked`` hash that brings it back if
the worker dies). A worker killed with SIGKILL between the two, or a connection
cut while the ``BRPOP`` reply is on its way, lost that message: it was neither on
the list nor in the hash (seen in our tests: one in 300-500, in some runs).

Here the message is *moved*, atomically, with ``BLMOVE`` (Redis 6.2) from the
queue's list onto an in-flight list owned by the taking channel. Recording it as
unacknowledged and removing it from the in-flight list are one ``MULTI``
transaction. So at every instant the message is on the queue, on an in-flight
list or in the unacknowledged hash. An in-flight list belongs to a channel that
keeps an owner key alive with a time-to-live; a channel that finds the owner key
of a list gone (its process was killed, or its connection was cut) moves the
list's messages back onto their queue. A message can then be delivered twice,
never lost, which is what acks-late delivery promises anyway.

It falls back to kombu's ``BRPOP``, with its window, where ``BLMOVE`` cannot
serve: a server older than Redis 6.2, a ``global_keyprefix``, or a channel
consuming several lists at once (several queues, or priority steps; sendx-worker
sets one priority step, so its worker consumes one list).
"""

from __future__ import annotations

from .inflight import (
    INFLIGHT_LIST_PREFIX,
    INFLIGHT_REGISTRY,
    inflight_list_key,
    owner_key,
    restore_orphans,
)
from .transport import Channel, QoS, Transport

__all__ = [
    "INFLIGHT_LIST_PREFIX",
    "INFLIGHT_REGISTRY",
    "Channel",
    "QoS",
    "Transport",
    "inflight_list_key",
    "owner_key",
    "restore_orphans",
]
