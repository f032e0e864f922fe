"""The pytest plugin ``sendx`` (entry point ``pytest11``): the fixtures of :mod:`sendx_worker.testing`.

Every fixture is named ``sendx_*``, so none shadows Celery's or pytest-celery's. Disable
the plugin with ``-p no:sendx``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .emulator import EmulatorControls
    from .recorder import Recorder
    from .worker import ThreadWorker

# The kit itself is imported inside the fixtures: a test run that never asks for one
# does not pay for Celery, kombu or the emulator's server.


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``sendx_worker`` marker."""
    config.addinivalue_line(
        "markers",
        "sendx_worker(**options): options of the sendx_worker fixture for this test: broker='memory'|"
        "'filesystem', flavor='v1'|'rest', retry_window_s, timeout_s, teams=('eu',), env={...}",
    )


@pytest.fixture
def sendx_recorder(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """Records every ``identify()``/``track()`` of the test at enqueue, with no broker.

    With ``sendx_worker`` in the same test, the calls are also delivered by it.
    """
    from .recorder import Recorder

    if "sendx_worker" in request.fixturenames:
        # Set up first, so that the recorder hands the calls on to it.
        request.getfixturevalue("sendx_worker")
    recorder = Recorder()
    with recorder.recording():
        yield recorder


@pytest.fixture
def sendx_emulator() -> Iterator[EmulatorControls]:
    """The SendX emulator on a free loopback port, for this test; faults as methods."""
    from ..emulator import Emulator
    from .emulator import API_KEY, TEAM_ID, EmulatorControls

    with Emulator(host="127.0.0.1", port=0, teams={TEAM_ID: API_KEY}) as emulator:
        yield EmulatorControls(emulator)


@pytest.fixture
def sendx_worker_options() -> dict[str, Any]:
    """Options of ``sendx_worker`` for a whole conftest or module (override this fixture)."""
    return {}


@pytest.fixture
def sendx_worker(
    request: pytest.FixtureRequest,
    sendx_emulator: EmulatorControls,
    sendx_worker_options: dict[str, Any],
    tmp_path: Path,
) -> Iterator[ThreadWorker]:
    """A real sendx-worker in a thread, on a broker of its own, delivering to ``sendx_emulator``.

    Every ``identify()``/``track()`` of the test is published to it; ``drain()`` waits for them.
    """
    from .worker import ThreadWorker

    options = dict(sendx_worker_options)
    marker = request.node.get_closest_marker("sendx_worker")
    if marker is not None:
        options.update(marker.kwargs)
    worker = ThreadWorker(sendx_emulator, tmp_path / "sendx", **options)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
