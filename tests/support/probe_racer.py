"""A process racing for a circuit's half-open slot: ``python -m tests.support.probe_racer URL ROUNDS OUT``.

Each time it wins the slot it writes "start end" (wall clock) to OUT, holding the slot
for a moment as a call would, then reports the probe failed (the circuit reopens for
a short interval); it stops once the fleet has probed ROUNDS times (a store counter).
"""

from __future__ import annotations

import sys
import time

from sendx_worker.flow.breaker import BreakerPolicy, SharedBreaker
from sendx_worker.state import open_store


def main(url: str, rounds: int, out: str) -> None:
    store = open_store(url)
    breaker = SharedBreaker(store, "race", BreakerPolicy(open_s=0.05, open_max_s=0.05, probe_ttl_s=30.0))
    deadline = time.monotonic() + 120
    with open(out, "w", encoding="utf-8") as file:
        while int(store.get("probes") or 0) < rounds and time.monotonic() < deadline:
            probe = breaker.try_probe(time.time())
            if probe is None:
                time.sleep(0.001)  # a polling interval, not synchronisation: spare the shared cores
                continue
            start = time.time()
            time.sleep(0.02)  # the probe's call: the slot is held meanwhile
            end = time.time()
            file.write(f"{start} {end}\n")
            file.flush()
            store.incr("probes")
            breaker.probe_done(probe, False, time.time())
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
