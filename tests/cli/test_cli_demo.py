"""``sendx-worker demo``: the main job, on the embedded default, as a user runs it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from sendx_worker.cli.demo import DEMO_API_KEY
from tests.cli.conftest import CliResult, run_module


def test_the_demo_delivers_shows_sendxs_contacts_and_the_dead_letter_and_exits_0(
    tmp_path: Path, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "demo"
    # A broker configured in the user's shell must not matter: the demo uses its own.
    result = run_module(
        "demo", "--data-dir", str(data_dir), env={"CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:1//"}
    )
    assert result.code == 0, result.output
    assert "Traceback" not in result.output
    assert "\r" not in result.output  # not a terminal: whole lines only
    assert DEMO_API_KEY not in result.output
    assert "enqueueing 20 events: 9 signups, 6 upgrades, 4 logins, 1 bad update" in result.out
    assert "[##############################] 20/20 (19 delivered, 1 dead-lettered," in result.err

    contacts, dead = result.out.split("\nContacts in SendX (9):\n")[1].split("\nDead letters (1):\n")
    header, *rows = contacts.strip().splitlines()
    assert header.split() == ["EMAIL", "FIRST", "NAME", "LAST", "NAME", "COMPANY", "TAGS", "CUSTOM", "FIELDS"]
    assert len(rows) == 9
    # The race: Dennis's signup met a 503 and was retried around his upgrade; whichever
    # landed first (the retry's delay and a loaded machine decide), he ends upgraded, and
    # when the upgrade came first the summary says what ordering kept.
    kept = re.search(r"kept in order: ([0-9]+) update\(s\) not sent and ([0-9]+) part\(s\) of others", result.out)
    assert kept is None or int(kept[1]) + int(kept[2]) >= 1, result.out
    racing = rows[-1].split()
    assert racing[:3] == ["dennis.ritchie@example.com", "Dennis", "Ritchie"]
    assert "paid user" in rows[-1] and "trial user" not in rows[-1] and "Plan=Paid" in rows[-1]
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


def test_with_an_outage_the_demo_shows_the_circuit_breaker_open_probe_and_close(tmp_path: Path) -> None:
    result = run_module("demo", "--error-rate", "0", "--latency-ms", "0", "--outage", "4")
    assert result.code == 0, result.output
    assert "outage: the SendX emulator refuses connections for 4 s" in result.out
    (line,) = [line for line in result.out.splitlines() if line.startswith("circuit breaker: ")]
    assert line.startswith("circuit breaker: opened 1 time(s), ")
    assert "closed by a successful probe after " in line
    assert "Dead letters (1):" in result.out  # the bad update only: nothing dead-lettered by the outage
