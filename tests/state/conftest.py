"""Every state store backend, isolated per test, for one shared suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sendx_worker.state import StateStore, open_store
from tests.support.stores import STORE_KINDS, isolated_state_url


@pytest.fixture(params=STORE_KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with isolated_state_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[StateStore]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
