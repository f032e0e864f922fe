"""Fixtures for the CLI tests: real brokers, the emulator, real workers, the CLI in and out of process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from sendx_worker.cli import main
from sendx_worker.emulator import Emulator
from tests.delivery.conftest import API_KEY, TEAM_ID, Stack
from tests.support.brokers import filesystem_folder, rabbitmq_vhost
from tests.support.output import CollectedOutput

__all__ = ["API_KEY", "TEAM_ID", "CliProcess", "CliResult", "run_module"]


@dataclass(frozen=True)
class CliResult:
    """What one run of the CLI did."""

    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def run_module(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 60, stdin: int | None = None
) -> CliResult:
    """``python -m sendx_worker ARGS`` as a real process, with the test's environment plus ``env``."""
    done = subprocess.run(
        [sys.executable, "-m", "sendx_worker", *args],
        env={**os.environ, **(env or {})},
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
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


class CliProcess:
    """``python -m sendx_worker ARGS`` left running, its output collected; stopped by a signal."""

    def __init__(self, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sendx_worker", *args],
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        self.output = CollectedOutput(self.process.stdout)

    def count(self, text: str) -> int:
        return self.output.count(text)

    def log(self) -> str:
        return self.output.text()

    def exited(self) -> bool:
        return self.process.poll() is not None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Send ``sig`` and wait for the exit code (SIGKILL if it does not come)."""
        family = self._family()
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        for child in family:  # none may outlive the test, whatever the parent did
            with contextlib.suppress(psutil.Error):
                child.wait(timeout=timeout)
        self.output.join(timeout=10)
        return code

    def kill(self) -> None:
        """SIGKILL the process and every process it started."""
        for member in [*self._family(), psutil.Process(self.process.pid)]:
            with contextlib.suppress(psutil.Error):
                member.kill()
        self.process.wait()

    def _family(self) -> list[psutil.Process]:
        try:
            return list(psutil.Process(self.process.pid).children(recursive=True))
        except psutil.Error:
            return []
