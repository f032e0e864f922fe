"""The emulator in its own process, driven over a pipe rather than over HTTP.

An outage of kind ``"refuse"`` closes the emulator's port, admin paths included, so a
benchmark that ends an outage cannot do it over HTTP. Here the benchmark process talks
to ``python -m bench.controlled_emulator`` through its stdin and stdout, one JSON line
each way per command (``set_faults``, ``stats``, ``log``, ``reset``), whatever the port
is doing. The emulator still runs apart from the benchmark (it must not share our GIL).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

from .common import KEY, TEAM, EmulatorProcess
from .emulator_ceiling import _stop_emulator

__all__ = ["ControlledEmulator", "serve"]


class ControlledEmulator(EmulatorProcess):
    """An :class:`EmulatorProcess` whose faults, stats and log are read over a pipe."""

    def __init__(self, latency_ms: float, **faults: Any) -> None:  # not EmulatorProcess's start
        self.latency_ms = latency_ms
        command = [sys.executable, "-m", "bench.controlled_emulator", json.dumps({"latency_ms": latency_ms, **faults})]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._lock = threading.Lock()
        self.url = str(self._read()["url"])

    def __enter__(self) -> ControlledEmulator:
        return self

    def _read(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the controlled emulator exited")
        answer = json.loads(line)
        if "error" in answer:
            raise ValueError(answer["error"])
        return answer["ok"]

    def _ask(self, op: str, **args: Any) -> Any:
        assert self.process.stdin is not None
        with self._lock:
            self.process.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
            self.process.stdin.flush()
            return self._read()

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """``Emulator.set_faults``: works during a ``"refuse"`` outage too."""
        answer: dict[str, Any] = self._ask("set_faults", **changes)
        return answer

    def stats(self) -> dict[str, Any]:
        """``{"requests", "first_at", "last_at", "by_status", "rate_limited"}``."""
        answer: dict[str, Any] = self._ask("stats")
        return answer

    def log(self) -> list[tuple[float, int | None, bool, str | None]]:
        """Every logged API request as ``(timestamp, status, applied, email)``, oldest first."""
        return [tuple(row) for row in self._ask("log")]

    def requests_log(self) -> list[dict[str, Any]]:
        """The log as :meth:`EmulatorProcess.requests_log` gives it (only ``timestamp`` and ``status``)."""
        return [{"timestamp": at, "status": status} for at, status, _, _ in self.log()]

    def reset(self) -> None:
        """Forget contacts, the log and the counters; restore the faults given at the start."""
        self._ask("reset")

    def close(self) -> None:
        """Stop the emulator process."""
        if self.process.stdin is not None:
            self.process.stdin.close()  # end of input: it stops by itself
        _stop_emulator(self.process)


def serve(faults: dict[str, Any]) -> int:
    """Run an emulator on a free port; answer one JSON line per command line until stdin ends."""
    from sendx_worker.emulator import Emulator

    with Emulator(port=0, teams={TEAM: KEY}, **faults) as emulator:
        print(json.dumps({"ok": {"url": emulator.url}}), flush=True)
        for line in sys.stdin:
            command = json.loads(line)
            try:
                answer = _run(emulator, command["op"], command.get("args") or {})
            except (ValueError, TypeError) as exc:
                print(json.dumps({"error": str(exc)}), flush=True)
                continue
            print(json.dumps({"ok": answer}), flush=True)
    return 0


def _run(emulator: Any, op: str, args: dict[str, Any]) -> Any:
    if op == "set_faults":
        return emulator.set_faults(**args)
    if op == "stats":
        return emulator.stats()
    if op == "reset":
        emulator.reset()
        return None
    if op == "log":
        rows = []
        for entry in emulator.requests():
            body = entry.get("body")
            email = body.get("email") if isinstance(body, dict) else None
            rows.append((entry["timestamp"], entry["status"], entry["applied"], email))
        return rows
    raise ValueError(f"unknown command {op!r}")


if __name__ == "__main__":
    sys.exit(serve(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}))
