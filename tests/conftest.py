"""Shared fixtures: an isolated environment for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Variables sendx-worker reads; a developer's shell must not leak them into tests.
ISOLATED_PREFIXES = ("SENDX_", "CELERY_")


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[None]:
    """Every test starts with no SENDX_*/CELERY_* variables and its own data dir."""
    for name in list(os.environ):
        if name.startswith(ISOLATED_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SENDX_DATA_DIR", str(tmp_path))
    yield
