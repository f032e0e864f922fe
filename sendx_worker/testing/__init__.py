"""The testing kit for apps that use sendx-worker: a pytest plugin with three fixtures.

Installed with the package (the ``pytest11`` entry point ``sendx``), nothing to configure:

- ``sendx_recorder`` (:class:`Recorder`): ``identify()``/``track()`` recorded at enqueue,
  validated as in production, with no broker; assertions, and the contact SendX would hold.
- ``sendx_emulator`` (:class:`EmulatorControls`): the SendX emulator on a free loopback
  port, with ``fail_next``, ``timeout_next``, ``latency``, ``rate_limit``, ``outage``.
- ``sendx_worker`` (:class:`ThreadWorker`): a real worker in a thread, on an in-memory
  broker, delivering to ``sendx_emulator``; ``drain()`` and ``dead_letters``.

See docs/TESTING.md. Everything here is imported when a fixture is first used, so the
plugin costs a test run that does not use it nothing but its own small module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .calls import RecordedCall, in_event_order
    from .emulator import EmulatorControls, RateLimitUnsupported
    from .recorder import Recorder
    from .worker import DrainTimeout, ThreadWorker, WorkerStartFailed

__all__ = [
    "DrainTimeout",
    "EmulatorControls",
    "RateLimitUnsupported",
    "RecordedCall",
    "Recorder",
    "ThreadWorker",
    "WorkerStartFailed",
    "in_event_order",
]

_LAZY = {
    "DrainTimeout": ".worker",
    "EmulatorControls": ".emulator",
    "RateLimitUnsupported": ".emulator",
    "RecordedCall": ".calls",
    "Recorder": ".recorder",
    "ThreadWorker": ".worker",
    "WorkerStartFailed": ".worker",
    "in_event_order": ".calls",
}

__getattr__ = lazy_exports(__name__, _LAZY, globals())
