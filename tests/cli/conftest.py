"""Fixtures for the CLI tests: real brokers, the emulator, real workers, the CLI in and out of process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sendx_worker.cli import main
from sendx_worker.emulator import Emulator
from tests.delivery.conftest import API_KEY, TEAM_ID, Stack
from tests.support.brokers import filesystem_folder, rabbitmq_vhost

__all__ = ["API_KEY", "TEAM_ID", "CliResult", "run_module"]


@dataclass(frozen=True)
class CliResult:
    """What one run of the CLI did."""

    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def run_module(*args: str, env: Mapping[str, str] | None = None, timeout: float = 60, **popen: object) -> CliResult:
    """``python -m sendx_worker ARGS`` as a real process, with the test's environment plus ``env``."""
    done = subprocess.run(
        [sys.executable, "-m", "sendx_worker", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **popen,  # type: ignore[arg-type]
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``main([...])`` in this process and capture what it printed."""

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(host="127.0.0.1", port=0, teams={TEAM_ID: API_KEY}) as emu:
        yield emu


@pytest.fixture
def rabbitmq() -> Iterator[Any]:
    """A RabbitMQ vhost of its own."""
    with rabbitmq_vhost() as broker:
        yield broker


@pytest.fixture
def stack(rabbitmq: Any, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A RabbitMQ vhost and the emulator; the environment set for in-process CLI runs too."""
    built = Stack(rabbitmq, emulator, tmp_path)
    for name, value in built.env.items():
        monkeypatch.setenv(name, value)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def embedded_stack(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The embedded (filesystem) broker under tmp_path and the emulator."""
    with filesystem_folder(tmp_path) as broker:
        built = Stack(broker, emulator, tmp_path)
        del built.env["CELERY_BROKER_URL"]  # unset: the embedded default
        for name, value in built.env.items():
            monkeypatch.setenv(name, value)
        try:
            yield built
        finally:
            built.close()
