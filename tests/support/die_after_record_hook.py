"""Loaded into a test worker with ``-I``: the first delivery of one address is applied by SendX
and recorded in the state store, then the worker dies before acknowledging it.

It stands for a worker killed (or cut off from the broker) between a call that
succeeded and the acknowledgement: the broker delivers the message again, and the
redelivery must send nothing. A marker file in ``SENDX_DATA_DIR`` makes it die once.
"""

from __future__ import annotations

import os
from pathlib import Path

from sendx_worker.ordering.gate import Turn

DIES_AFTER_RECORD_EMAIL = "recorded@example.com"

_applied = Turn.applied


def _applied_then_die_once(self: Turn) -> None:
    _applied(self)
    marker = Path(os.environ["SENDX_DATA_DIR"]) / "died-after-record"
    if self.event.email == DIES_AFTER_RECORD_EMAIL and not marker.exists():
        marker.touch()
        os._exit(70)


Turn.applied = _applied_then_die_once  # type: ignore[method-assign]
