"""``sendx-worker demo --outage SECONDS``: SendX refuses connections for a while, and the breaker shows.

The emulator refuses connections from the first event on; a timer ends the outage.
The demo's worker runs with short breaker intervals so that, within a minute, one can
watch the circuit open, its probes fail, and the first successful probe close it;
the summary comes from the worker's own log lines (one per transition).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..emulator import Emulator

__all__ = ["OUTAGE_ENV", "breaker_summary", "start_outage"]

#: The demo's breaker: probes every 2 s, then 4 s (production: 30 s doubling to 5 min).
OUTAGE_ENV = {"SENDX_BREAKER_OPEN_S": "2", "SENDX_BREAKER_OPEN_MAX_S": "4", "SENDX_HOLD_S": "5"}


def start_outage(emulator: Emulator, seconds: float) -> threading.Timer:
    """Make the emulator refuse connections now and for ``seconds``; returns the timer that ends it."""
    emulator.set_faults(outage="refuse")
    timer = threading.Timer(seconds, lambda: emulator.set_faults(outage=None))
    timer.daemon = True
    timer.start()
    print(f"outage: the SendX emulator refuses connections for {seconds:g} s")
    return timer


def breaker_summary(log: Path) -> str | None:
    """One line on what the circuit breaker did, from the worker's log; None if it never opened."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    opened = text.count("circuit opened")
    if not opened:
        return None
    failed = text.count("circuit probe failed")
    closed = re.findall(r'circuit closed.*?open_s(?:=|": )([0-9.]+)', text)
    ending = f"closed by a successful probe after {float(closed[-1]):.1f} s" if closed else "still open"
    return (
        f"circuit breaker: opened {opened} time(s), {failed} probe(s) failed, {ending}; "
        "while open, the worker called SendX with nothing but its probes"
    )
