"""Loaded into a test worker with ``-I``: makes one e-mail address kill the worker.

It stands for a real poison message, e.g. one whose call crashes a C extension:
the process dies in the middle of handling it, without acknowledging or
requeueing anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from sendx_worker.client import SendxClient

POISON_EMAIL = "poison@example.com"

# The worker calls SendX through SendxClient.send.
_send = SendxClient.send


def _send_or_die(self: SendxClient, operation: Any, payload: Mapping[str, Any]) -> int:
    if operation == "identify" and payload.get("email") == POISON_EMAIL:
        os._exit(70)
    return _send(self, operation, payload)


SendxClient.send = _send_or_die  # type: ignore[method-assign]
