"""Shared fixtures: an isolated environment for every test; hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# Variables sendx-worker reads; a developer's shell must not leak them into tests.
ISOLATED_PREFIXES = ("SENDX_", "CELERY_")
# The standard proxy and CA-bundle variables, read into the settings too (any case).
ISOLATED_SUFFIXES = ("_PROXY",)
ISOLATED_NAMES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")

# Hypothesis: "ci" (the default) is derandomized, so CI sees the same examples every
# run and a failure there is reproducible; "dev" searches ten times longer with fresh
# randomness: HYPOTHESIS_PROFILE=dev pytest tests/...
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None, suppress_health_check=_SLOW_OK)
settings.register_profile("dev", max_examples=600, deadline=None, suppress_health_check=_SLOW_OK)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def scrub_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every variable the settings read (also for module-scoped fixtures)."""
    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith(ISOLATED_PREFIXES) or upper.endswith(ISOLATED_SUFFIXES) or upper in ISOLATED_NAMES:
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[None]:
    """Every test starts with none of the variables the settings read, and its own data dir."""
    scrub_environment(monkeypatch)
    monkeypatch.setenv("SENDX_DATA_DIR", str(tmp_path))
    yield
