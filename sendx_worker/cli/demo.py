"""``sendx-worker demo``: the whole pipeline on this machine, with nothing to install or sign up for.

The SendX emulator runs in this process; one real worker runs as a child process
on the embedded (filesystem) broker under a temporary data dir; sample events go
through ``identify()``/``track()`` exactly as a web app sends them.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..settings import Settings, load_settings
from .common import EXIT_OK, CommandError, subcommand
from .demo_events import MIN_EVENTS, DemoPlan, plan_events
from .demo_outage import MAX_WAIT_FOR_OPEN_S, OUTAGE_ENV, breaker_summary, start_outage
from .demo_worker import DemoWorker, worker_environment
from .output import Progress, table

if TYPE_CHECKING:
    from celery import Celery

    from ..deadletter import DeadLetterRecord
    from ..emulator import Emulator

# Celery, kombu and the emulator's server are imported when the demo runs: see .common.

__all__ = ["DELIVERY_DEADLINE_S", "DEMO_API_KEY", "DEMO_TEAM_ID", "register"]

DEMO_TEAM_ID = "demo-team"
DEMO_API_KEY = "demo-key-not-secret"
DELIVERY_DEADLINE_S = 60.0
#: How long the demo waits for SendX to see the race's signup before sending its upgrade.
RACE_WAIT_S = 30.0
POLL_S = 0.2
# Fixes which requests the emulator fails; with this one the default run shows a few 503s retried.
DEMO_SEED = 8

EXAMPLES = """\
examples:
  sendx-worker demo                                  # ~20 events, a few transient 503s, one rejected update
  sendx-worker demo --events 200 --latency-ms 50
  sendx-worker demo --error-rate 0.3                 # watch the retries
  sendx-worker demo --outage 15                      # watch the circuit breaker open, probe and close
  sendx-worker demo --data-dir ./demo                # keep the broker files and the worker's log
  sendx-worker demo --console                        # then keep it all up, with the web console, until Ctrl-C

Needs no broker and no SendX account: the SendX emulator runs in this process, one worker
runs on the embedded broker, and the data dir is removed at the end unless --data-dir is given."""


def register(subparsers: Any) -> None:
    """Add ``demo``."""
    parser = subcommand(
        subparsers,
        "demo",
        help="run the whole pipeline locally: emulator, worker, sample events",
        description="Start the SendX emulator and a worker, enqueue sample events, show what SendX now holds.",
        examples=EXAMPLES,
    )
    parser.add_argument("--events", type=_count, default=20, metavar="N", help="how many events (default 20)")
    parser.add_argument(
        "--latency-ms", type=_non_negative, default=20.0, metavar="MS", help="the emulator's latency (default 20)"
    )
    parser.add_argument(
        "--error-rate", type=_rate, default=0.1, metavar="R", help="fraction answered 503, then retried (default 0.1)"
    )
    parser.add_argument(
        "--outage",
        type=_non_negative,
        default=0.0,
        metavar="SECONDS",
        help="SendX refuses connections this long from the start: watch the circuit breaker (default 0)",
    )
    parser.add_argument("--data-dir", type=Path, metavar="DIR", help="keep the broker files and worker log here")
    parser.add_argument(
        "--console", action="store_true", help="then serve the web console (and keep the worker up) until Ctrl-C"
    )
    parser.add_argument(
        "--console-port", type=int, default=8026, metavar="P", help="the console's port on 127.0.0.1 (default 8026)"
    )
    parser.set_defaults(handler=run)


def _count(text: str) -> int:
    if not text.isdigit() or not MIN_EVENTS <= int(text) <= 100_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of events from {MIN_EVENTS} to 100000")
    return int(text)


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number >= 0")
    return value


def _rate(text: str) -> float:
    value = _non_negative(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate from 0 to below 1")
    return value


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 once every event is delivered or dead-lettered."""
    from ..deadletter import DeadLetterQueue
    from ..emulator import Emulator
    from .broker import producer_app

    plan = plan_events(args.events)
    data_dir = args.data_dir.resolve() if args.data_dir else Path(tempfile.mkdtemp(prefix="sendx-demo-"))
    keep = args.data_dir is not None
    try:
        with Emulator(
            port=0,
            teams={DEMO_TEAM_ID: DEMO_API_KEY},
            latency_ms=args.latency_ms,
            error_rate=args.error_rate,
            seed=DEMO_SEED,
        ) as emulator:
            if plan.race_email is not None:
                emulator.set_faults(script={plan.race_email: [503]})
            env = worker_environment(data_dir, emulator.base_url("v1"), DEMO_TEAM_ID, DEMO_API_KEY)
            if args.outage:
                env.update(OUTAGE_ENV)
            settings = load_settings(env)
            print(f"SendX emulator: {emulator.base_url('v1')} (team {DEMO_TEAM_ID})")
            print(f"embedded broker: {data_dir / 'broker'}; worker log: {data_dir / 'worker.log'}")
            with DemoWorker(env, data_dir / "worker.log") as worker, producer_app(settings) as app:
                if args.outage:
                    start_outage(emulator, args.outage, data_dir / "worker.log")
                _deliver(plan, app, emulator, worker, data_dir / "worker.log", args.outage)
                contacts = [emulator.contact(email) for email in plan.emails]
                dead = DeadLetterQueue(app.connection_for_write).records()
                if args.console:
                    _print_contacts([contact for contact in contacts if contact is not None])
                    _print_dead_letters(dead)
                    _serve_console(settings, args.console_port)
                print(f"stopping the worker (SIGTERM): exit {worker.stop()}")
            if not args.console:
                _print_contacts([contact for contact in contacts if contact is not None])
                _print_dead_letters(dead)
    except Exception:
        keep = True  # for a look at the worker's log
        print(f"(kept {data_dir} for a look)", file=sys.stderr)
        raise
    finally:
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    return EXIT_OK


def _serve_console(settings: Settings, port: int) -> None:
    """The web console on the demo's broker, until Ctrl-C; the emulator and the worker stay up meanwhile."""
    from .console import build_console, serve_until_stopped

    print()
    serve_until_stopped(build_console(settings), "127.0.0.1", port, announce="\nconsole")


def _deliver(plan: DemoPlan, app: Celery, emulator: Emulator, worker: DemoWorker, log: Path, outage: float) -> None:
    deadline_s = DELIVERY_DEADLINE_S + (outage + MAX_WAIT_FOR_OPEN_S if outage else 0.0)
    print(f"enqueueing {plan.total} events: {plan.summary()}")
    progress = Progress(sys.stderr, plan.total)
    started = time.monotonic()
    watch = _Watch(app, emulator, log)
    # Signups first and delivered before their updates: a track before its identify would
    # only be retried (SendX says 404). The race's signup goes out, and once SendX has failed
    # it (the scripted 503), its upgrade follows: the upgrade lands before the signup's retry.
    for phase in (plan.signups, [*plan.race, *plan.updates]):
        for event in phase:
            event.enqueue(app)
            if plan.race and event is plan.race[0]:
                _wait_for_a_request(emulator, event.email, worker)
        target = len(plan.signups) if phase is plan.signups else plan.total
        while True:
            delivered, dead, retried = watch.counts()
            progress.update(delivered + dead, watch.detail(delivered, dead, retried))
            if delivered + dead >= target:
                break
            worker.check_alive()
            if time.monotonic() - started > deadline_s:
                progress.finish(delivered + dead, watch.detail(delivered, dead, retried))
                raise CommandError(f"the demo did not finish within {deadline_s:g} s; see the worker log")
            time.sleep(POLL_S)
    delivered, dead, retried = watch.counts()
    progress.finish(delivered + dead, watch.detail(delivered, dead, retried))
    print(f"done in {time.monotonic() - started:.1f} s")
    breaker = breaker_summary(log)
    if breaker is not None:
        print(breaker)
    elif outage:
        print("circuit breaker: did not open (too few failures in a row); the failed calls were retried")
    whole, parts = superseded_in(log)
    if whole or parts:
        print(
            f"kept in order: {whole} update(s) not sent and {parts} part(s) of others dropped, "
            "because a newer update of the same contact had landed first"
        )


def _wait_for_a_request(emulator: Emulator, email: str, worker: DemoWorker) -> None:
    """Until SendX has seen a request for ``email`` (at most RACE_WAIT_S: the demo goes on anyway)."""
    deadline = time.monotonic() + RACE_WAIT_S
    while time.monotonic() < deadline:
        if any(isinstance(r.get("body"), dict) and r["body"].get("email") == email for r in emulator.requests()):
            return
        worker.check_alive()
        time.sleep(POLL_S)


def superseded_in(log: Path) -> tuple[int, int]:
    """(updates wholly superseded, parts dropped from updates sent) in a worker's log, either format."""
    whole = parts = 0
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return 0, 0
    for line in lines:
        if " superseded " in line or '"event": "superseded"' in line:
            whole += 1
        found = re.search(r'superseded_parts(?:=|": )([0-9]+)', line)
        if found and ("delivered" in line):
            parts += int(found.group(1))
    return whole, parts


class _Watch:
    """Counts what happened: 2xx answers from the emulator, records on the dead-letter queue, and
    the updates the worker found superseded (they send nothing)."""

    def __init__(self, app: Celery, emulator: Emulator, log: Path) -> None:
        from ..deadletter import DeadLetterQueue

        self._queue = DeadLetterQueue(app.connection_for_write)
        self._emulator = emulator
        self._log = log

    def counts(self) -> tuple[int, int, int]:
        by_status: dict[str, int] = self._emulator.stats()["by_status"]
        delivered = sum(n for status, n in by_status.items() if status.startswith("2"))
        retried = sum(n for status, n in by_status.items() if status.startswith("5") or status in ("429", "404"))
        return delivered + superseded_in(self._log)[0], len(self._queue.records()), retried

    @staticmethod
    def detail(delivered: int, dead: int, retried: int) -> str:
        return f"({delivered} delivered, {dead} dead-lettered, {retried} transient errors retried)"


def _print_contacts(contacts: list[dict[str, Any]]) -> None:
    print(f"\nContacts in SendX ({len(contacts)}):")
    headers = ("email", "first name", "last name", "company", "tags", "custom fields")
    rows = [[c["email"], c["firstName"], c["lastName"], c["company"], c["tags"], c["customFields"]] for c in contacts]
    print(table(headers, rows))


def _print_dead_letters(records: list[DeadLetterRecord]) -> None:
    print(f"\nDead letters ({len(records)}):")
    if not records:
        print("none")
        return
    headers = ("id", "reason", "status", "task", "email", "error")
    rows = [
        [r.id[:8], r.reason, r.status, r.task, r.payload.get("email") if isinstance(r.payload, dict) else None, r.error]
        for r in records
    ]
    print(table(headers, rows, max_width=100))
