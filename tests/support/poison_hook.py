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

_identify = SendxClient.identify


def _identify_or_die(self: SendxClient, payload: Mapping[str, Any]) -> Any:
    if payload.get("email") == POISON_EMAIL:
        os._exit(70)
    return _identify(self, payload)


SendxClient.identify = _identify_or_die  # type: ignore[method-assign]
