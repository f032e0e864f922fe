"""The embedded broker: atomic files, acknowledgements on disk, one state per folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
