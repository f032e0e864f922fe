"""The testing kit's own tests: pytester runs of users' test files, and the fixtures used directly."""

from __future__ import annotations

import re
from typing import Any

import pytest

# Imported here, before any inner run: pytester's in-process runs forget the modules
# first imported inside them, and a second run would then hold two copies of
# sendx_worker.producer (one publishing through the recorder, one not).
import sendx_worker.producer
import sendx_worker.testing.plugin
import sendx_worker.testing.recorder
import sendx_worker.testing.worker  # noqa: F401


def pytest_configure(config: pytest.Config) -> None:
    # pytester runs a user's test file in a pytest of its own (the `sendx` plugin loads
    # there from its entry point, as in any project that installs the package).
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


def failures(result: Any) -> dict[str, str]:
    """Test name -> the failure text of each inner test that failed (in its call or set-up)."""
    found: dict[str, str] = {}
    for report in _reports(result):
        if report.failed:
            name = report.nodeid.split("::")[-1]
            found[name] = found.get(name, "") + report.longreprtext
    return found


def outcomes(result: Any) -> dict[str, str]:
    """Test name -> "passed"/"failed"/"skipped" of its call (or of the phase that decided it)."""
    found: dict[str, str] = {}
    for report in _reports(result):
        name = report.nodeid.split("::")[-1]
        if report.when == "call" or report.outcome != "passed":
            found[name] = report.outcome
    return found


# The outer run imported sendx_worker before the inner one could mark it (the plugin's
# package) for assertion rewriting; a user's run imports it through the plugin.
INNER_ARGS = ("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning")


def _reports(result: Any) -> list[Any]:
    recorder = getattr(result, "reprec", result)  # a RunResult, or inline_run's HookRecorder
    return list(recorder.getreports("pytest_runtest_logreport"))


def squash(text: str) -> str:
    """The failure text with pytest's ``E`` margins dropped and whitespace runs made single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"(?m)^E ", " ", text))
