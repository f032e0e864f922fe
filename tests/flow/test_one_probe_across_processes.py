"""Several OS processes race for an open circuit's half-open slot: one probe at a time across the fleet."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from sendx_worker.flow.breaker import BreakerPolicy, SharedBreaker
from sendx_worker.state import open_store
from tests.support.stores import isolated_state_url

PROCESSES = 4
ROUNDS = 30


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_racing_processes_never_probe_at_the_same_time(kind: str, tmp_path: Path) -> None:
    with isolated_state_url(kind, tmp_path) as url:
        store = open_store(url)
        try:
            breaker = SharedBreaker(store, "race", BreakerPolicy(open_s=0.05, open_max_s=0.05, probe_ttl_s=30.0))
            assert breaker.trip(0.0) is not None  # opened long ago: a probe is due at once
        finally:
            store.close()
        outs = [tmp_path / f"probes-{n}.txt" for n in range(PROCESSES)]
        racers = [
            subprocess.Popen([sys.executable, "-m", "tests.support.probe_racer", url, str(ROUNDS), str(out)])
            for out in outs
        ]
        for racer in racers:
            assert racer.wait(timeout=180) == 0
    probes = sorted(
        (float(start), float(end), n)
        for n, out in enumerate(outs)
        for start, end in (line.split() for line in out.read_text().splitlines())
    )
    assert len(probes) >= ROUNDS
    for (_, end, _), (start, _, _) in itertools.pairwise(probes):
        assert end <= start, "two probes overlapped"
    assert len({n for _, _, n in probes}) > 1, "one process won every time: no race happened"
