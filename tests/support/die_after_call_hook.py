"""Loaded into a test worker with ``-I``: the first identify of one address reaches SendX, then the worker dies.

It stands for a worker killed (or cut off from the broker) after its call reached
SendX and before the message was acknowledged: the broker delivers the message
again. A marker file in ``SENDX_DATA_DIR`` makes it die once only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sendx_worker.client import SendxClient

DIES_AFTER_CALL_EMAIL = "twice@example.com"

_identify = SendxClient.identify


def _identify_then_die_once(self: SendxClient, payload: Mapping[str, Any]) -> Any:
    result = _identify(self, payload)
    marker = Path(os.environ["SENDX_DATA_DIR"]) / "died-after-call"
    if payload.get("email") == DIES_AFTER_CALL_EMAIL and not marker.exists():
        marker.touch()
        os._exit(70)
    return result


SendxClient.identify = _identify_then_die_once  # type: ignore[method-assign]
