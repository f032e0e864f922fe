"""``sendx-worker dead migrate``: an older version's classic ``sendx.dead_letter`` becomes a quorum queue."""

from __future__ import annotations

import json
from collections.abc import Callable

from kombu import Connection

from sendx_worker.deadletter import DeadLetterQueue, DeadLetterRecord, iso_utc
from sendx_worker.deadletter.migrate import HOLDING_QUEUE, migrate
from sendx_worker.topology import DEAD_LETTER_QUEUE, dead_letter_queue
from tests.cli.conftest import CliResult
from tests.delivery.conftest import Stack
from tests.delivery.test_dead_letter_durability import declare_classic_dead_letter_queue, queue_types


def record(number: int) -> DeadLetterRecord:
    return DeadLetterRecord(
        id=f"{number:04d}" + "0" * 28,
        task="sendx.identify_contact",
        payload={"email": f"m{number}@example.com"},
        reason="rejected",
        status=422,
        error="SendX said no",
        attempts=1,
        first_attempt_at=iso_utc(),
        dead_lettered_at=iso_utc(),
    )


def test_a_classic_queue_is_listed_with_a_warning_then_migrated_keeping_every_record(
    cli: Callable[..., CliResult], stack: Stack
) -> None:
    declare_classic_dead_letter_queue(stack.broker.url)
    DeadLetterQueue(stack.app.connection_for_write).add(record(n) for n in range(3))

    listed = cli("dead", "list", "--json")
    assert listed.code == 0, listed.output
    assert len(json.loads(listed.out)) == 3
    assert listed.err.count("\n") == 1
    assert listed.err.startswith("sendx-worker: warning: sendx.dead_letter is a classic queue")
    assert "sendx-worker dead migrate" in listed.err

    migrated = cli("dead", "migrate")
    assert (migrated.code, migrated.out, migrated.err) == (
        0,
        "sendx.dead_letter is now a quorum queue; 3 record(s) kept\n",
        "",
    )
    assert queue_types(stack)[DEAD_LETTER_QUEUE] == "quorum"
    assert HOLDING_QUEUE not in queue_types(stack)
    assert sorted(r.id for r in stack.dead_letters()) == sorted(record(n).id for n in range(3))
    assert cli("dead", "list").err == ""

    again = cli("dead", "migrate")
    assert (again.code, again.out) == (0, "sendx.dead_letter is already a quorum queue; nothing to do\n")


def test_a_migration_interrupted_after_the_move_is_finished_by_running_it_again(stack: Stack) -> None:
    # As if a first run had moved the records to the holding queue and deleted the old
    # queue, then died: the records wait in the holding queue.
    with Connection(stack.broker.url) as connection:
        dead_letter_queue(HOLDING_QUEUE, bound=False)(connection.default_channel).declare()
    with stack.app.connection_for_write() as connection, connection.Producer() as producer:
        for n in range(2):
            producer.publish(record(n).to_dict(), exchange="", routing_key=HOLDING_QUEUE, serializer="json",
                             headers={"x-sendx-dead-letter": 1}, delivery_mode=2)  # fmt: skip
    with stack.app.connection_for_write() as connection:
        done = migrate(connection)
    assert done.summary() == f"sendx.dead_letter is a quorum queue; 2 record(s) moved back from {HOLDING_QUEUE}"
    assert sorted(r.id for r in stack.dead_letters()) == sorted(record(n).id for n in range(2))
    assert HOLDING_QUEUE not in queue_types(stack)


def test_nothing_to_migrate_on_the_embedded_broker(cli: Callable[..., CliResult], embedded_stack: Stack) -> None:
    result = cli("dead", "migrate")
    assert (result.code, result.out) == (0, "nothing to migrate: queue types exist on RabbitMQ only\n")
