"""``sendx-worker demo``: the main job, on the embedded default, as a user runs it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sendx_worker.cli.demo import DEMO_API_KEY
from tests.cli.conftest import CliResult, run_module


def test_the_demo_delivers_shows_sendxs_contacts_and_the_dead_letter_and_exits_0(
    tmp_path: Path, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "demo"
    started = time.monotonic()
    # A broker configured in the user's shell must not matter: the demo uses its own.
    result = run_module(
        "demo", "--data-dir", str(data_dir), env={"CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:1//"}
    )
    elapsed = time.monotonic() - started
    assert result.code == 0, result.output
    assert elapsed < 30
    assert "Traceback" not in result.output
    assert "\r" not in result.output  # not a terminal: whole lines only
    assert DEMO_API_KEY not in result.output
    assert "enqueueing 20 events: 8 signups, 5 upgrades, 6 logins, 1 bad update" in result.out
    assert "[##############################] 20/20 (19 delivered, 1 dead-lettered," in result.err

    contacts, dead = result.out.split("\nContacts in SendX (8):\n")[1].split("\nDead letters (1):\n")
    header, *rows = contacts.strip().splitlines()
    assert header.split() == ["EMAIL", "FIRST", "NAME", "LAST", "NAME", "COMPANY", "TAGS", "CUSTOM", "FIELDS"]
    assert len(rows) == 8
    assert rows[0].split()[:3] == ["ada.lovelace@example.com", "Ada", "Lovelace"]
    assert "paid user" in rows[0]
    assert "trial user" not in rows[0]
    assert "Plan=Trial" in rows[0]
    assert sum("Logins=" in row for row in rows) >= 1
    header, row = dead.strip().splitlines()
    assert header.split() == ["ID", "REASON", "STATUS", "TASK", "EMAIL", "ERROR"]
    assert row.split()[1:5] == ["rejected", "422", "sendx.identify_contact", "ada.lovelace@example.com"]
    assert "non-numeric" in row

    # The data dir was kept: its embedded broker still holds the dead letter.
    monkeypatch.setenv("SENDX_DATA_DIR", str(data_dir))
    listed = cli("dead", "list", "--json")
    assert listed.code == 0, listed.err
    (record,) = json.loads(listed.out)
    assert (record["reason"], record["status"], record["task"]) == ("rejected", 422, "sendx.identify_contact")
    assert record["payload"] == {"email": "ada.lovelace@example.com", "customFields": {"Plan": "++1"}}
    table = cli("dead", "list")
    assert record["id"][:8] in table.out
    assert "a***@example.com" in table.out


def test_without_data_dir_the_demo_cleans_up_after_itself(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    result = run_module("demo", "--events", "3", "--error-rate", "0", "--latency-ms", "0", env={"TMPDIR": str(temp)})
    assert result.code == 0, result.output
    assert "Contacts in SendX (1):" in result.out
    assert "Dead letters (1):" in result.out
    assert list(temp.iterdir()) == []
