"""``sendx-worker demo --outage SECONDS``: SendX refuses connections for a while, and the breaker shows.

The emulator refuses connections from the first event on, for the seconds asked and until
the worker's log says the circuit opened; then a thread ends the outage.
The demo's worker runs with short breaker intervals so that, within a minute, one can
watch the circuit open, its probes fail, and the first successful probe close it;
the summary comes from the worker's own log lines (one per transition).
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..emulator import Emulator

__all__ = ["MAX_WAIT_FOR_OPEN_S", "OUTAGE_ENV", "breaker_summary", "start_outage"]

#: The demo's breaker: probes every 2 s, then 4 s (production: 30 s doubling to 5 min).
OUTAGE_ENV = {"SENDX_BREAKER_OPEN_S": "2", "SENDX_BREAKER_OPEN_MAX_S": "4", "SENDX_HOLD_S": "5"}
#: How long past ``--outage`` the emulator goes on refusing while the breaker has not opened yet.
MAX_WAIT_FOR_OPEN_S = 60.0


def start_outage(emulator: Emulator, seconds: float, log: Path | None = None) -> threading.Thread:
    """Make the emulator refuse connections now, for ``seconds`` and until the breaker opened.

    ``log``: the worker's log. The outage lasts until it says ``circuit opened`` too (at
    most :data:`MAX_WAIT_FOR_OPEN_S` more): a worker still starting on a slow machine
    would otherwise meet a SendX already back, and there would be nothing to watch.
    Returns the thread that ends it.
    """
    emulator.set_faults(outage="refuse")
    started = time.monotonic()

    def end() -> None:
        deadline = started + seconds + MAX_WAIT_FOR_OPEN_S
        while time.monotonic() < deadline and not (time.monotonic() - started >= seconds and _opened(log)):
            time.sleep(0.1)
        emulator.set_faults(outage=None)

    thread = threading.Thread(target=end, name="demo-outage", daemon=True)
    thread.start()
    print(f"outage: the SendX emulator refuses connections for {seconds:g} s (and until the breaker has opened)")
    return thread


def _opened(log: Path | None) -> bool:
    if log is None:
        return True
    try:
        return "circuit opened" in log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


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
