"""``sendx-worker dead list|show|replay|purge``: inspect, replay and delete dead letters.

An id may be shortened to any unique prefix (``dead list`` shows the first 8
characters). An id that matches no dead letter, or several, is invalid input:
exit 2, nothing done.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..masking import mask_email
from ..settings import Flavor, Settings, load_settings
from .common import EXIT_FAILURE, EXIT_OK, PROG, CommandError, UsageError, report_error, subcommand
from .output import printable, table

if TYPE_CHECKING:
    from celery import Celery

    from ..deadletter import DeadLetterQueue, DeadLetterRecord

# Celery, kombu and marshmallow are imported by the handlers, not here: see .common.

__all__ = ["SHORT_ID", "register", "resolve"]

SHORT_ID = 8

EXAMPLES = """\
examples:
  sendx-worker dead list                         # id, reason, status, task, e-mail (masked), attempts, when
  sendx-worker dead list --json | jq '.[] | select(.reason == "rejected")'
  sendx-worker dead show 3f2a9c1e                # the whole record; any unique prefix of the id
  sendx-worker dead show 3f2a9c1e | jq .payload > fixed.json   # edit, then:
  sendx-worker dead replay 3f2a9c1e --payload fixed.json
  sendx-worker dead replay --all                 # put every dead letter back on the `sendx` queue
  sendx-worker dead replay 3f2a9c1e --force      # as if it happened now: newer updates do not win
  sendx-worker dead purge 3f2a9c1e --yes         # delete without asking
  sendx-worker dead migrate                      # an older version's classic queue -> a quorum queue

An unknown or ambiguous id exits 2. Replay publishes the task again and only then deletes
the dead letter; the task keeps the time its event happened, so the parts of it that newer
updates of the contact replaced since are dropped (--force sends them anyway). Purge asks
first on a terminal, and refuses (exit 2) without --yes otherwise."""


def register(subparsers: Any) -> None:
    """Add ``dead`` and its subcommands."""
    dead = subcommand(
        subparsers,
        "dead",
        help="inspect, replay and delete dead letters",
        description="Inspect, replay and delete the dead letters in sendx.dead_letter.",
        examples=EXAMPLES,
    )
    actions = dead.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = subcommand(
        actions, "list", help="list the dead letters", description="List the dead letters.", examples=EXAMPLES
    )
    listing.add_argument("--json", action="store_true", help="print a JSON array of the full records")
    listing.set_defaults(handler=run_list)
    show = subcommand(
        actions, "show", help="print one dead letter as JSON", description="Print one record.", examples=EXAMPLES
    )
    show.add_argument("id", help="the dead letter's id, or a unique prefix of it")
    show.set_defaults(handler=run_show)
    again = subcommand(
        actions,
        "replay",
        help="enqueue dead letters again, then delete them",
        description="Put dead letters' tasks back on the sendx queue, then delete the dead letters.",
        examples=EXAMPLES,
    )
    _id_or_all(again)
    again.add_argument(
        "--payload", type=Path, metavar="FILE", help="replay with the JSON payload in FILE (- for stdin) instead"
    )
    again.add_argument(
        "--force",
        action="store_true",
        help="replay as events happening now, overriding newer updates of the contacts (by default a replay "
        "keeps its original time, and the parts of it newer events replaced are dropped)",
    )
    again.set_defaults(handler=run_replay)
    purge = subcommand(
        actions, "purge", help="delete dead letters", description="Delete dead letters for good.", examples=EXAMPLES
    )
    _id_or_all(purge)
    purge.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    purge.set_defaults(handler=run_purge)
    migrate = subcommand(
        actions,
        "migrate",
        help="make sendx.dead_letter a quorum queue (RabbitMQ), keeping every record",
        description="Turn a classic sendx.dead_letter (left by an older version) into a quorum queue, which "
        "survives the loss of a RabbitMQ node. Every record is kept; safe to run again, and with workers running.",
        examples=EXAMPLES,
    )
    migrate.set_defaults(handler=run_migrate)


def _id_or_all(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", help="the dead letter's id, or a unique prefix of it")
    which.add_argument("--all", action="store_true", help="every dead letter")


def resolve(records: list[DeadLetterRecord], wanted: str) -> DeadLetterRecord:
    """The record whose id is ``wanted`` or starts with it; UsageError when none or several do."""
    if not wanted:
        raise UsageError("an empty dead-letter id")
    exact = [record for record in records if record.id == wanted]
    found = exact or [record for record in records if record.id.startswith(wanted)]
    if not found:
        raise UsageError(f"no dead letter with id {wanted!r} (see 'sendx-worker dead list')")
    if len(found) > 1:
        raise UsageError(f"{wanted!r} matches {len(found)} dead letters; give more of the id")
    return found[0]


@contextmanager
def _dead_letters(settings: Settings | None = None) -> Iterator[tuple[Celery, DeadLetterQueue]]:
    from ..deadletter import DeadLetterQueue
    from .broker import broker_errors, producer_app

    with producer_app(settings) as app, broker_errors(app):
        queue = DeadLetterQueue(app.connection_for_write)
        yield app, queue
    if queue.kind == "classic":
        from ..deadletter import MIGRATE_HINT

        print(f"{PROG}: warning: {MIGRATE_HINT}", file=sys.stderr, flush=True)


def run_list(args: argparse.Namespace) -> int:
    """Print the dead letters as a table, or as JSON."""
    with _dead_letters() as (_, queue):
        records = queue.records()
    if args.json:
        print(json.dumps([record.to_dict() for record in records], indent=2))
        return EXIT_OK
    if not records:
        print("no dead letters")
        return EXIT_OK
    headers = ("id", "reason", "status", "task", "email", "attempts", "dead_lettered_at")
    print(table(headers, [_row(record) for record in records]))
    return EXIT_OK


def _row(record: DeadLetterRecord) -> list[object]:
    return [
        record.id[:SHORT_ID],
        record.reason,
        record.status,
        record.task,
        _masked_email(record),
        record.attempts,
        record.dead_lettered_at,
    ]


def _masked_email(record: DeadLetterRecord) -> str | None:
    email = record.payload.get("email") if isinstance(record.payload, dict) else None
    return mask_email(email) if isinstance(email, str) else None


def run_show(args: argparse.Namespace) -> int:
    """Print one record as JSON."""
    with _dead_letters() as (_, queue):
        record = resolve(queue.records(), args.id)
    print(json.dumps(record.to_dict(), indent=2))
    return EXIT_OK


def run_replay(args: argparse.Namespace) -> int:
    """Publish the tasks again, then delete their dead letters."""
    if args.all and args.payload is not None:
        raise UsageError("--payload replays one dead letter: give its id instead of --all")
    from ..deadletter.replay import replay

    settings = load_settings()
    with _dead_letters(settings) as (app, queue):
        records = queue.records()
        if args.all:
            if not records:
                print("no dead letters")
                return EXIT_OK
            chosen = {record.id for record in records if _replayable(record)}
            skipped = [record for record in records if record.id not in chosen]
            payload = None
        else:
            record = resolve(records, args.id)
            chosen, skipped = {record.id}, []
            payload = _payload(args.payload, record, settings.api_flavor) if args.payload is not None else None

        def again(record: DeadLetterRecord) -> None:
            task_id = replay(app, record, payload, force=args.force)
            line = f"replayed {record.id[:SHORT_ID]} ({record.task}, {_masked_email(record) or '-'}) as task {task_id}"
            print(printable(line))

        done = queue.take(lambda record: record.id in chosen, again)
    _check_all_done(chosen, done, "replayed")
    for record in skipped:
        report_error(f"not replayed {record.id[:SHORT_ID]}: no sendx task and payload to send (task {record.task!r})")
    return EXIT_FAILURE if skipped else EXIT_OK


def _replayable(record: DeadLetterRecord) -> bool:
    from ..deadletter.replay import is_replayable

    return is_replayable(record)


def _payload(path: Path, record: DeadLetterRecord, flavor: Flavor) -> Any:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--payload: cannot read {path}: {exc.strerror or exc}") from None
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--payload: {path} is not JSON: {exc}") from None
    # The worker would dead-letter a bad payload again; say so now, naming the field.
    from ..schemas import load_identify_wire, load_track_wire

    loaders: dict[str, Callable[..., Any]] = {
        "sendx.identify_contact": load_identify_wire,
        "sendx.track_tags": load_track_wire,
    }
    loader = loaders.get(record.task)
    return loader(payload, flavor) if loader is not None else payload


def run_purge(args: argparse.Namespace) -> int:
    """Delete dead letters, after confirmation."""
    with _dead_letters() as (_, queue):
        records = queue.records()
        chosen = {record.id for record in records} if args.all else {resolve(records, args.id).id}
        if not chosen:
            print("no dead letters")
            return EXIT_OK
        if not args.yes and not _confirm(len(chosen)):
            print("nothing deleted", file=sys.stderr)
            return EXIT_FAILURE
        done = queue.take(lambda record: record.id in chosen, lambda record: None)
    _check_all_done(chosen, done, "deleted")
    print(f"deleted {len(done)} dead letter(s)")
    return EXIT_OK


def _confirm(count: int) -> bool:
    if not sys.stdin.isatty():
        raise UsageError(f"refusing to delete {count} dead letter(s) without --yes: stdin is not a terminal")
    sys.stderr.write(f"Delete {count} dead letter(s) for good? [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _check_all_done(chosen: set[str], done: list[DeadLetterRecord], verb: str) -> None:
    missing = chosen - {record.id for record in done}
    if missing:
        raise CommandError(f"{len(missing)} dead letter(s) vanished before they were {verb} (another operator?)")


def run_migrate(args: argparse.Namespace) -> int:
    """Make the dead-letter queue a quorum queue on RabbitMQ; say what was done."""
    from ..deadletter.migrate import migrate
    from .broker import broker_errors, producer_app

    with producer_app() as app, broker_errors(app), app.connection_for_write() as connection:
        print(migrate(connection).summary())
    return EXIT_OK
