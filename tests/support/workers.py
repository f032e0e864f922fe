"""Real worker processes, started the way users start them, and stopped by signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path

from .output import CollectedOutput
from .waiting import wait_for


class WorkerProcess:
    """``celery -A sendx_worker worker`` in a subprocess, its log captured."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        concurrency: int = 8,
        pool: str | None = None,
        log_path: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.name = f"test-{uuid.uuid4().hex[:6]}@localhost"
        self.env = {**os.environ, **env}
        self.args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "sendx_worker",
            "worker",
            # No -P: the app's own pool (celeryconf.WORKER_POOL), as `sendx-worker worker` runs it.
            *(["-P", pool] if pool else []),
            "-c",
            str(concurrency),
            "-n",
            self.name,
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            *extra_args,
        ]
        self.log_path = log_path
        self.output: CollectedOutput | None = None
        self.process: subprocess.Popen[str] | None = None

    def start(self, *, wait_ready: bool = True) -> WorkerProcess:
        self.process = subprocess.Popen(
            self.args, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        assert self.process.stdout is not None
        self.output = CollectedOutput(self.process.stdout, copy_to=self.log_path)
        if wait_ready:
            wait_for(lambda: self.saw(" ready.") or self.exited(), timeout=60, what=f"worker {self.name} ready")
            if self.exited():
                raise AssertionError(f"worker exited with {self.process.returncode}:\n{self.log()}")
        return self

    @property
    def lines(self) -> list[str]:
        return self.output.lines if self.output else []

    def saw(self, text: str) -> bool:
        return self.output is not None and self.output.saw(text)

    def count(self, text: str) -> int:
        return self.output.count(text) if self.output else 0

    def log(self) -> str:
        return self.output.text() if self.output else ""

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def kill(self) -> None:
        """SIGKILL: no chance to acknowledge or requeue anything."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM (Celery's warm shutdown), then SIGKILL if it does not exit in time."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode
