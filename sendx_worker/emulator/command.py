"""``sendx-worker emulator`` and ``python -m sendx_worker.emulator``: serve until told to stop."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType

from .bucket import parse_rate

__all__ = ["add_arguments", "main", "run"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8025
DEFAULT_TEAM_ID = "team-1"
DEFAULT_API_KEY = "test-key"

EXAMPLES = """\
examples:
  sendx-worker emulator                                  # 127.0.0.1:8025, team-1 / test-key
  sendx-worker emulator --port 0                         # any free port (printed)
  sendx-worker emulator --team eu=key-eu --team us=key-us
  sendx-worker emulator --latency-ms 50 --error-rate 0.1 --seed 7
  sendx-worker emulator --rate-limit 200/s --rate-limit-burst 50   # 429 + Retry-After past it
then point a worker at it: SENDX_BASE_URL=http://127.0.0.1:8025/api/v1 (v1)
or http://127.0.0.1:8025/api/v1/rest (rest)."""


def _bounded(kind: type[int] | type[float], low: float, high: float | None, what: str) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value < low or (high is not None and value > high) or value != value:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return convert


def _rate(text: str) -> float:
    try:
        rate = parse_rate(text, "--rate-limit")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate > 0 (N or N/s)") from None
    assert rate is not None  # text is never None
    return rate


def _team(text: str) -> tuple[str, str]:
    team, sep, key = text.partition("=")
    if not sep or not team or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not ID=KEY")
    return team, key


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser`` (the project CLI mounts it as a subcommand)."""
    parser.epilog = EXAMPLES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add = parser.add_argument
    add("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    port = _bounded(int, 0, 65535, "a port 0-65535")
    add("--port", type=port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    add("--team-id", help=f"the team id to accept (default {DEFAULT_TEAM_ID})")
    add("--api-key", help=f"that team's API key (default {DEFAULT_API_KEY})")
    add("--team", type=_team, action="append", default=[], metavar="ID=KEY", help="accept this team; repeatable")
    add("--latency-ms", type=_bounded(float, 0, None, "a delay >= 0"), default=0.0, help="added to every answer")
    rate = _bounded(float, 0, 1, "a rate from 0 to 1")
    add("--error-rate", type=rate, default=0.0, help="fraction answered --error-status")
    add("--error-status", type=_bounded(int, 300, 599, "a status 300-599"), default=503, help="(default 503)")
    add("--throttle-rate", type=rate, default=0.0, help="fraction answered 429 with Retry-After")
    seconds = _bounded(float, 0, None, "seconds >= 0")
    add("--retry-after", type=seconds, default=1.0, help="Retry-After of a 429, in seconds (default 1)")
    add("--timeout-rate", type=rate, default=0.0, help="fraction answered only after --slow-s")
    add("--slow-s", type=seconds, default=30.0, help="delay of a timeout (default 30)")
    add("--seed", type=int, default=0, help="seed of the fault draws (default 0)")
    add("--rate-limit", type=_rate, metavar="N[/s]", help="token bucket: 429 with Retry-After past N requests/s")
    burst = _bounded(float, 1, None, "a burst >= 1")
    add("--rate-limit-burst", type=burst, metavar="B", help="the bucket's size (default N: one second's worth)")


def _teams(args: argparse.Namespace) -> dict[str, str]:
    teams = dict(args.team)
    if not teams or args.team_id is not None or args.api_key is not None:
        teams[args.team_id or DEFAULT_TEAM_ID] = args.api_key or DEFAULT_API_KEY
    return teams


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 0 on a clean stop, 1 when the port cannot be had, 2 on bad faults."""
    from .server import Emulator  # here: mounting the options in `sendx-worker` needs only argparse

    try:
        emulator = Emulator(
            host=args.host,
            port=args.port,
            teams=_teams(args),
            latency_ms=args.latency_ms,
            seed=args.seed,
            error_rate=args.error_rate,
            error_status=args.error_status,
            throttle_rate=args.throttle_rate,
            retry_after=args.retry_after,
            timeout_rate=args.timeout_rate,
            slow_s=args.slow_s,
            rate_limit=args.rate_limit,
            rate_limit_burst=args.rate_limit_burst,
        )
    except ValueError as exc:
        print(f"sendx-worker emulator: {exc}", file=sys.stderr)
        return 2
    try:
        emulator.start()
    except OSError as exc:
        print(
            f"sendx-worker emulator: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr
        )
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        teams = ", ".join(sorted(emulator.backend.teams.as_dict()))
        print(
            f"SendX emulator listening on {emulator.url} "
            f"(v1: {emulator.base_url('v1')}, rest: {emulator.base_url('rest')}; teams: {teams})",
            flush=True,
        )
        # A timed wait: the main thread must come back to Python to run the signal handler.
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        emulator.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sendx_worker.emulator``."""
    parser = argparse.ArgumentParser(
        prog="python -m sendx_worker.emulator", description="Run the SendX emulator until interrupted."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
