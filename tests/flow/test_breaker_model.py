"""The shared breaker as a model (hypothesis): several processes, one store, a clock moved by hand.

Checked after every step: never two probes at once; the circuit closes only by a
probe's success; an open interval lies within its bounds; a process joining an
open circuit does not reset it.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sendx_worker.flow.breaker import BreakerPolicy, Probe, SharedBreaker
from sendx_worker.flow.circuit import JITTER, Circuit
from sendx_worker.state.memory import MemoryStore

OPEN_S = 30.0
OPEN_MAX_S = 300.0
PROBE_TTL_S = 15.0
PROCESSES = st.integers(0, 3)


class BreakerModel(RuleBasedStateMachine):
    """Four processes' breakers over one store."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 1_000_000.0
        self.store = MemoryStore(clock=lambda: self.now)
        self.jitters = iter(lambda: 0.5, None)
        self.policy = BreakerPolicy(OPEN_S, OPEN_MAX_S, PROBE_TTL_S)
        self.breakers = [self._breaker() for _ in range(4)]
        #: Probes running, by process, with when they began (a probe past its lease is dead).
        self.probes: dict[int, tuple[Probe, float]] = {}
        self.last: Circuit = Circuit()
        self.closed_by_success = False

    def _breaker(self) -> SharedBreaker:
        return SharedBreaker(self.store, "eu", self.policy, jitter=lambda: 0.5)

    def _state(self) -> Circuit:
        return self.breakers[0].read()[1]

    @rule(seconds=st.floats(0, 400))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        # A probe whose lease lapsed belongs to a worker that died: it reports nothing.
        for process, (_, began) in list(self.probes.items()):
            if self.now - began >= PROBE_TTL_S:
                del self.probes[process]

    @rule(process=PROCESSES)
    def failures_trip(self, process: int) -> None:
        before = self._state()
        opened = self.breakers[process].trip(self.now)
        assert (opened is not None) == (not before.is_open)

    @rule(process=PROCESSES)
    def a_process_tries_the_half_open_slot(self, process: int) -> None:
        if process in self.probes:
            return
        probe = self.breakers[process].try_probe(self.now)
        if probe is not None:
            self.probes[process] = (probe, self.now)

    @precondition(lambda self: bool(self.probes))
    @rule(data=st.data(), ok=st.booleans())
    def a_probe_ends(self, data: st.DataObject, ok: bool) -> None:
        process = data.draw(st.sampled_from(sorted(self.probes)))
        probe, _ = self.probes.pop(process)
        before = self._state()
        new = self.breakers[process].probe_done(probe, ok, self.now)
        if new is not None and ok:
            assert before.is_open and not new.is_open
            self.closed_by_success = True

    @rule(process=PROCESSES)
    def a_process_restarts(self, process: int) -> None:
        self.probes.pop(process, None)
        before = self._state()
        self.breakers[process] = self._breaker()
        assert self._state() == before

    @invariant()
    def never_two_probes(self) -> None:
        assert len(self.probes) <= 1

    @invariant()
    def closes_only_after_a_successful_probe(self) -> None:
        state = self._state()
        if self.last.is_open and not state.is_open:
            assert self.closed_by_success
        self.closed_by_success = False
        self.last = state

    @invariant()
    def the_open_interval_is_within_bounds(self) -> None:
        state = self._state()
        if state.is_open:
            waits = state.retry_at - self.now
            assert waits <= OPEN_MAX_S
            assert state.opens >= 1
            assert state.retry_at - state.since >= (1 - JITTER) * OPEN_S or state.opens > 1


BreakerModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_the_shared_breaker_as_a_model = BreakerModel.TestCase
