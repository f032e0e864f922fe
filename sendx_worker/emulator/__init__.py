"""A SendX stand-in: a real threaded HTTP server for tests, demos and benchmarks.

::

    from sendx_worker.emulator import Emulator

    with Emulator(teams={"team-1": "key-1"}) as emu:
        emu.base_url("v1")              # "http://127.0.0.1:PORT/api/v1"
        emu.set_faults(script={"a@example.com": [503, 200]})
        emu.contact("a@example.com")    # the stored contact, or None

Modules: ``wire`` (request bodies), ``store`` (contacts and merge semantics),
``endpoints`` (credentials and answers), ``faults``, ``journal`` (log and counters),
``admin`` (``/_emulator/``), ``handler`` (HTTP), ``server`` (the Emulator),
``command`` (``sendx-worker emulator`` and ``python -m sendx_worker.emulator``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .faults import FaultConfig
    from .server import DEFAULT_TEAMS, Emulator

__all__ = ["DEFAULT_TEAMS", "Emulator", "FaultConfig"]

# Imported on first use: `sendx-worker` mounts the emulator's command (``command``, whose
# options need only argparse), and importing the server brings http.server and friends.
_LAZY = {"DEFAULT_TEAMS": ".server", "Emulator": ".server", "FaultConfig": ".faults"}

__getattr__ = lazy_exports(__name__, _LAZY, globals())
