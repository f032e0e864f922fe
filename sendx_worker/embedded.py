"""The embedded broker: kombu's filesystem transport, with atomic message files.

kombu writes a message file in place, so a consumer polling the folder can pick
up a file that is still empty and die decoding it (seen here: a worker publishing
its own retry crashed on it). Writing to a hidden temporary name and renaming is
atomic on one filesystem: a consumer sees a whole message or none.

What the embedded broker cannot do (single host, no acknowledgements on disk):
a message is removed from the folder when a worker takes it, so a worker killed
with SIGKILL loses the messages it held: the ones running and prefetched, and the
retries it was holding until their countdown. A graceful stop (SIGTERM) hands
them back. Use RabbitMQ or Redis where that matters.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

__all__ = ["Channel", "Transport"]


class Channel(filesystem.Channel):
    """A filesystem channel whose messages appear in the folder atomically."""

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # The leading dot keeps the half-written file from matching any queue.
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        with open(partial, "wb") as handle:
            handle.write(str_to_bytes(dumps(payload)))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, final)


class Transport(filesystem.Transport):
    """kombu's filesystem transport using :class:`Channel`."""

    Channel = Channel
    driver_type = "filesystem"
    driver_name = "filesystem"
