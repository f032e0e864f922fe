"""The demo's worker: ``python -m sendx_worker worker`` in a child process, on the embedded broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

from .common import CommandError

__all__ = ["STOP_TIMEOUT_S", "DemoWorker", "worker_environment"]

STOP_TIMEOUT_S = 30.0
# Small retry delays, so that the retries of the emulator's 503s are visible and quick.
RETRY_BASE_S = "0.2"
RETRY_CAP_S = "1"
THREADS = "8"


def worker_environment(data_dir: Path, base_url: str, team_id: str, api_key: str) -> dict[str, str]:
    """This process's environment with the demo's settings: embedded broker, the emulator, its team."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("SENDX_", "CELERY_"))}
    # The log format is the user's choice; everything else is the demo's.
    if "SENDX_LOG_FORMAT" in os.environ:
        env["SENDX_LOG_FORMAT"] = os.environ["SENDX_LOG_FORMAT"]
    env.update(
        {
            "SENDX_DATA_DIR": str(data_dir),
            "SENDX_BASE_URL": base_url,
            "SENDX_API_FLAVOR": "v1",
            "SENDX_API_KEY": api_key,
            "SENDX_TEAM_ID": team_id,
            "SENDX_TIMEOUT": "5",
            "SENDX_RETRY_BASE_S": RETRY_BASE_S,
            "SENDX_RETRY_CAP_S": RETRY_CAP_S,
        }
    )
    return env


class DemoWorker:
    """One worker process whose output goes to a log file; stopped with SIGTERM (warm shutdown)."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self._env = dict(env)
        self._log_path = log_path
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DemoWorker:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self._log_path.open("ab")
        # One process: the demo's few events need no more, whatever the CPUs.
        command = [sys.executable, "-m", "sendx_worker", "worker", "--processes", "1", "-c", THREADS]
        self._process = subprocess.Popen(
            [*command, "-n", f"demo-{os.getpid()}@%h"],
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own process group: a Ctrl-C reaches only the demo, which then stops the worker.
            process_group=0,
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if self._log is not None:
            self._log.close()

    def check_alive(self) -> None:
        """Raise CommandError, quoting the worker's last log line, if it has exited."""
        if self._process is not None and self._process.poll() is not None:
            raise CommandError(f"the worker exited with {self._process.returncode}: {self._last_line()}")

    def stop(self) -> int | None:
        """SIGTERM and wait (SIGKILL after STOP_TIMEOUT_S); the exit code."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def _last_line(self) -> str:
        try:
            lines = self._log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return f"see {self._log_path}"
        return lines[-1] if lines else f"no output; see {self._log_path}"
