"""The embedded broker: atomic files, acknowledgements on disk, one state per folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sendx_worker.celery_app import create_app
from sendx_worker.embedded import UNACKED_FOLDER, restore_orphans
from sendx_worker.settings import load_settings


def queued(folder: Path, queue: str = "sendx") -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(f".{queue}.msg"))


def test_two_apps_with_different_folders_in_one_process_both_enqueue(tmp_path: Path) -> None:
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        app = create_app(load_settings({"SENDX_DATA_DIR": str(folder)}))
        app.send_task("sendx.identify_contact", kwargs={"payload": {"email": "ann@example.com"}})
        app.close()
    assert [len(queued(folder / "broker")) for folder in folders] == [1, 1]


def test_messages_held_by_a_dead_process_go_back_to_the_queue(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    held = tmp_path / UNACKED_FOLDER / dead.stdout.strip()
    held.mkdir(parents=True)
    (held / "000000000000001_x.sendx.msg").write_text("{}")
    assert restore_orphans(tmp_path) == 1
    assert queued(tmp_path) == ["000000000000001_x.sendx.msg"]
    assert not held.exists()


def test_messages_held_by_a_live_process_stay_where_they_are(tmp_path: Path) -> None:
    held = tmp_path / UNACKED_FOLDER / str(os.getpid())
    held.mkdir(parents=True)
    (held / "000000000000001_x.sendx.msg").write_text("{}")
    assert restore_orphans(tmp_path) == 0
    assert queued(tmp_path) == []
    assert (held / "000000000000001_x.sendx.msg").exists()


def test_messages_published_after_the_folder_was_listed_are_taken_too(tmp_path: Path) -> None:
    # A consumer lists the folder once and takes from that listing until it is used up;
    # what arrives meanwhile, or while a queue was found empty, is found on a later listing.
    app = create_app(load_settings({"SENDX_DATA_DIR": str(tmp_path)}))
    with app.connection_for_write() as connection:
        queue = connection.SimpleQueue("listing")
        with pytest.raises(queue.Empty):
            queue.get(block=False)  # found empty: looked for again after the polling interval
        for number in range(3):
            queue.put({"n": number})
        taken = [queue.get(timeout=10)]  # lists three
        queue.put({"n": 3})
        taken += [queue.get(timeout=10) for _ in range(3)]
        for message in taken:
            message.ack()
        queue.close()
    app.close()
    assert sorted(message.payload["n"] for message in taken) == [0, 1, 2, 3]
    assert queued(tmp_path / "broker", "listing") == []
