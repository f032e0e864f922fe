"""A Redis consumer that dies (``os._exit``) the moment it has taken one message.

Run as ``python -m tests.support.take_and_die URL QUEUE TRANSPORT`` with TRANSPORT
``reliable`` (sendx_worker.reliable_redis) or ``kombu`` (kombu's own). It dies
inside the QoS's ``append``, i.e. after the message left the queue's list and
before it was recorded as unacknowledged: the window a SIGKILL or a cut
connection can hit in production, made certain.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from kombu import Connection, Exchange, Queue
from kombu.transport import redis as kombu_redis

from sendx_worker import reliable_redis

EXIT_TOOK_ONE = 9


def _die(self: Any, message: Any, delivery_tag: str) -> None:
    os._exit(EXIT_TOOK_ONE)


def main(url: str, queue_name: str, transport: str) -> int:
    if transport == "reliable":
        transport_class: Any = reliable_redis.Transport
        reliable_redis.QoS.append = _die  # type: ignore[method-assign]
    else:
        transport_class = kombu_redis.Transport
        kombu_redis.QoS.append = _die  # type: ignore[method-assign]
    queue = Queue(queue_name, Exchange(queue_name, type="direct"), routing_key=queue_name)
    with (
        Connection(
            url, transport=transport_class, transport_options={"priority_steps": [0], "inflight_owner_ttl": 1}
        ) as connection,
        connection.Consumer(queue, callbacks=[lambda body, message: None]),
    ):
        connection.drain_events(timeout=30)
    return 1  # nothing came: the parent's assertion on the exit status says so


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
