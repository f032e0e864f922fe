"""Per-contact ordering and deduplication: what of an event to send, and the turn that sends it.

:mod:`.plan` holds the rules as pure functions; :mod:`.gate` applies them under a
contact's lease in the state store (:mod:`sendx_worker.state`).
"""

from .gate import LEASE_WAIT_S, MAX_WAITERS, Busy, OrderingGate, Turn
from .plan import Event, Plan, plan

__all__ = ["LEASE_WAIT_S", "MAX_WAITERS", "Busy", "Event", "OrderingGate", "Plan", "Turn", "plan"]
