"""``sendx-worker dead``: real dead letters, made by a real worker on RabbitMQ, listed, replayed, purged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from sendx_worker.deadletter import DeadLetterQueue, DeadLetterRecord, iso_utc
from tests.cli.conftest import API_KEY, CliResult, run_module
from tests.delivery.conftest import Stack
from tests.support.waiting import wait_for

CONTRACT_KEYS = {
    "id",
    "task",
    "payload",
    "reason",
    "status",
    "error",
    "attempts",
    "first_attempt_at",
    "dead_lettered_at",
}


def rejected_by_sendx(stack: Stack, *emails: str) -> dict[str, DeadLetterRecord]:
    """Dead letters made the real way: SendX answers 422 once to each address."""
    stack.emulator.set_faults(script={email: [422] for email in emails})
    stack.start_worker()
    for email in emails:
        stack.identify({"email": email, "firstName": email.split("@")[0].title()})
    records = stack.wait_dead_letters(len(emails))
    return {record.payload["email"]: record for record in records}


def remaining(stack: Stack) -> set[str]:
    return {record.payload["email"] for record in stack.dead_letters()}


def test_list_shows_a_table_with_masked_emails_and_json_with_the_contract_keys(
    cli: Callable[..., CliResult], stack: Stack
) -> None:
    records = rejected_by_sendx(stack, "ann@example.com", "bob@example.com")
    listed = cli("dead", "list")
    assert listed.code == 0, listed.err
    header, *rows = listed.out.splitlines()
    assert header.split() == ["ID", "REASON", "STATUS", "TASK", "EMAIL", "ATTEMPTS", "DEAD_LETTERED_AT"]
    assert len(rows) == 2
    ann = records["ann@example.com"]
    (ann_row,) = [row for row in rows if row.startswith(ann.id[:8])]
    assert ann_row.split() == [
        ann.id[:8], "rejected", "422", "sendx.identify_contact", "a***@example.com", "1", ann.dead_lettered_at
    ]  # fmt: skip
    assert "ann@example.com" not in listed.out

    as_json = cli("dead", "list", "--json")
    assert as_json.code == 0
    data = json.loads(as_json.out)
    assert isinstance(data, list)
    assert {item["id"]: item for item in data} == {record.id: record.to_dict() for record in records.values()}
    for item in data:
        assert set(item) >= CONTRACT_KEYS
        assert (item["reason"], item["status"], item["attempts"]) == ("rejected", 422, 1)
        assert item["dead_lettered_at"].endswith("Z") and item["first_attempt_at"].endswith("Z")

    shown = cli("dead", "show", ann.id[:6])
    assert (shown.code, json.loads(shown.out)) == (0, ann.to_dict())
    unknown = cli("dead", "show", "nothing-like-it")
    assert (unknown.code, unknown.out) == (2, "")
    assert (
        unknown.err == "sendx-worker: error: no dead letter with id 'nothing-like-it' (see 'sendx-worker dead list')\n"
    )
    assert len(stack.dead_letters()) == 2  # looking consumes nothing
    assert API_KEY not in listed.output + as_json.output + shown.output + unknown.output


def test_replay_delivers_to_sendx_and_only_then_removes_the_dead_letter(
    cli: Callable[..., CliResult], stack: Stack, tmp_path: Path
) -> None:
    records = rejected_by_sendx(stack, "cy@example.com", "dee@example.com", "eve@example.com")
    # The emulator's script answered 422 once per address: SendX now accepts them.
    cy = records["cy@example.com"]
    replayed = cli("dead", "replay", cy.id[:8])
    assert replayed.code == 0, replayed.err
    assert replayed.out.startswith(f"replayed {cy.id[:8]} (sendx.identify_contact, c***@example.com) as task ")
    stack.wait_contact("cy@example.com", firstName="Cy")
    assert remaining(stack) == {"dee@example.com", "eve@example.com"}

    dee = records["dee@example.com"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"email": "dee@example.com", "colour": "blue"}))
    refused = cli("dead", "replay", dee.id, "--payload", str(broken))
    assert (refused.code, refused.err) == (2, "sendx-worker: error: invalid input: colour: Unknown field.\n")
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({"email": "dee@example.com", "firstName": "Dee", "company": "Fixed Ltd"}))
    assert cli("dead", "replay", dee.id, "--payload", str(fixed)).code == 0
    stack.wait_contact("dee@example.com", company="Fixed Ltd")
    assert remaining(stack) == {"eve@example.com"}

    everything = cli("dead", "replay", "--all")
    assert everything.code == 0, everything.err
    stack.wait_contact("eve@example.com", firstName="Eve")
    assert stack.dead_letters() == []


def test_a_replay_keeps_its_time_so_newer_updates_win_unless_forced(
    cli: Callable[..., CliResult], stack: Stack
) -> None:
    records = rejected_by_sendx(stack, "old@example.com", "forced@example.com")
    for email in records:  # newer updates of both contacts land after the dead letters
        stack.identify({"email": email, "firstName": "Newer"})
        stack.wait_contact(email, firstName="Newer")

    kept = cli("dead", "replay", records["old@example.com"].id)
    assert kept.code == 0, kept.err
    wait_for(lambda: stack.workers[0].saw("superseded"), timeout=60, what="the replay found superseded")
    assert stack.emulator.contact("old@example.com")["firstName"] == "Newer"  # type: ignore[index]

    forced = cli("dead", "replay", records["forced@example.com"].id, "--force")
    assert forced.code == 0, forced.err
    stack.wait_contact("forced@example.com", firstName="Forced")
    assert stack.dead_letters() == []


def test_purge_deletes_with_yes_and_refuses_without_a_terminal(cli: Callable[..., CliResult], stack: Stack) -> None:
    records = rejected_by_sendx(stack, "fay@example.com", "gus@example.com", "hal@example.com")
    fay = records["fay@example.com"]

    refused = run_module("dead", "purge", fay.id[:8], stdin=subprocess.DEVNULL)
    assert refused.code == 2
    assert "Traceback" not in refused.err
    assert refused.err == (
        "sendx-worker: error: refusing to delete 1 dead letter(s) without --yes: stdin is not a terminal\n"
    )
    assert len(stack.dead_letters()) == 3

    purged = cli("dead", "purge", fay.id[:8], "--yes")
    assert (purged.code, purged.out) == (0, "deleted 1 dead letter(s)\n")
    assert remaining(stack) == {"gus@example.com", "hal@example.com"}

    assert cli("dead", "purge", "--all", "--yes").out == "deleted 2 dead letter(s)\n"
    assert stack.dead_letters() == []
    assert stack.emulator.contact("gus@example.com") is None  # deleted, not delivered


def fabricated(record_id: str, email: str) -> DeadLetterRecord:
    return DeadLetterRecord(
        id=record_id,
        task="sendx.identify_contact",
        payload={"email": email},
        reason="rejected",
        status=422,
        error="SendX answered 422",
        attempts=1,
        first_attempt_at=iso_utc(),
        dead_lettered_at=iso_utc(),
    )


class Terminal:
    """``python -m sendx_worker ARGS`` with a pseudo-terminal as stdin, its stderr collected."""

    def __init__(self, *args: str) -> None:
        master, slave = os.openpty()
        self._master = master
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sendx_worker", *args],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(slave)
        self.err = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        while chunk := self.process.stderr.read(1):
            self.err += chunk

    def type(self, text: str) -> None:
        os.write(self._master, text.encode())

    def finish(self) -> tuple[int, str, str]:
        assert self.process.stdout is not None
        out = self.process.stdout.read()  # stderr is the reader thread's
        self.process.wait(timeout=60)
        self._reader.join(timeout=10)
        os.close(self._master)
        return self.process.returncode, out, self.err


def test_on_a_terminal_purge_asks_first_and_ctrl_c_exits_130(
    cli: Callable[..., CliResult], embedded_stack: Stack
) -> None:
    queue = DeadLetterQueue(embedded_stack.app.connection_for_write)
    queue.add([fabricated("abc1" + "0" * 28, "ivy@example.com"), fabricated("abc2" + "0" * 28, "jo@example.com")])
    ambiguous = cli("dead", "show", "abc")
    assert (ambiguous.code, ambiguous.err) == (
        2,
        "sendx-worker: error: 'abc' matches 2 dead letters; give more of the id\n",
    )

    declined = Terminal("dead", "purge", "abc1")
    wait_for(lambda: "[y/N]" in declined.err, timeout=30, what="the confirmation prompt")
    declined.type("n\n")
    assert declined.finish() == (1, "", "Delete 1 dead letter(s) for good? [y/N] nothing deleted\n")
    assert len(queue.records()) == 2

    accepted = Terminal("dead", "purge", "abc1")
    wait_for(lambda: "[y/N]" in accepted.err, timeout=30, what="the confirmation prompt")
    accepted.type("y\n")
    assert accepted.finish()[:2] == (0, "deleted 1 dead letter(s)\n")
    assert [record.id[:4] for record in queue.records()] == ["abc2"]

    interrupted = Terminal("dead", "purge", "--all")
    wait_for(lambda: "[y/N]" in interrupted.err, timeout=30, what="the confirmation prompt")
    interrupted.process.send_signal(signal.SIGINT)
    code, out, err = interrupted.finish()
    assert (code, out) == (130, "")
    assert "Traceback" not in err
    assert [record.id[:4] for record in queue.records()] == ["abc2"]


def test_an_unreachable_broker_is_one_line_naming_it_without_its_password(
    cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest:hunter2@127.0.0.1:1//")
    result = cli("dead", "list")
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "sendx-worker: error: cannot reach the broker at amqp://guest:**@127.0.0.1:1//: "
        "ConnectionRefusedError: [Errno 111] Connection refused\n"
    )
