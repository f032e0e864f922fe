"""The embedded broker: kombu's filesystem transport, made safe for at-least-once.

kombu's filesystem transport has two gaps this subclass closes:

- it writes a message file in place, so a consumer polling the folder can take a
  file that is still empty and die decoding it (seen here: a worker publishing its
  own retry crashed on it). Messages are written under a hidden name and renamed,
  which is atomic: a consumer sees a whole message or none.
- it deletes a message file the moment a worker takes it, so a worker killed with
  SIGKILL lost everything it held (running, prefetched, and retries waiting for
  their countdown). Here taking a message *moves* its file into a folder owned by
  the taking process, acknowledging deletes it, and a process that finds the owner
  of such a folder dead moves its files back into the queue.

It remains a single-host broker: every worker must share the folder, and a
folder is recognised as orphaned by its owner's process id no longer running.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path
from typing import Any

from kombu.transport import filesystem
from kombu.transport.virtual.base import BrokerState
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

from .worker.envelope import read_envelope

__all__ = ["Channel", "Transport"]

UNACKED_FOLDER = "unacked"
FILE_PROPERTY = "sendx_unacked_file"
# How often a consumer looks for the folders of dead processes.
ORPHAN_SWEEP_INTERVAL_S = 5.0


class Channel(filesystem.Channel):
    """A filesystem channel with atomic writes and acknowledgements kept on disk."""

    _last_sweep = 0.0
    # The queues' files as last listed, each newest first and taken from the end.
    # Listing and sorting the folder for every message cost O(messages queued) each:
    # a queue's listing is used up before the folder is listed again for it, and a
    # queue found empty (the worker's remote-control queue, polled between any two
    # messages) is looked for again once per polling interval, not on every poll.
    _listed: dict[str, list[str]] | None = None
    _found_empty_at: dict[str, float] | None = None
    _held_in: tuple[int, Path] | None = None  # (pid, its folder): made once per process

    @property
    def _unacked_folder(self) -> Path:
        pid = os.getpid()
        if self._held_in is None or self._held_in[0] != pid:
            folder = Path(self.data_folder_in) / UNACKED_FOLDER / str(pid)
            folder.mkdir(parents=True, exist_ok=True)
            self._held_in = (pid, folder)
        return self._held_in[1]

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(time.monotonic() * 1000):015d}_{uuid.uuid4()}.{queue}.msg"
        _write_atomically(Path(self.data_folder_out) / name, str_to_bytes(dumps(payload)))

    def _get(self, queue: str) -> Any:
        self._maybe_sweep_orphans()
        inbox = Path(self.data_folder_in)
        names = self._names(queue, inbox)
        while names:
            name = names.pop()
            held = self._unacked_folder / name
            try:
                # rename is the claim: of several consumers, exactly one succeeds (a
                # name listed earlier may have been taken by another since).
                os.rename(inbox / name, held)
            except OSError:
                continue
            # A file kombu cannot read arrives wrapped, and is dead-lettered by the consumer.
            payload = read_envelope(held.read_bytes(), queue)
            payload["properties"][FILE_PROPERTY] = str(held)
            return payload
        raise filesystem.Empty()

    def _names(self, queue: str, inbox: Path) -> list[str]:
        """The names of ``queue``'s files not yet tried, listing the folder again when there are none."""
        if self._listed is None or self._found_empty_at is None:
            self._listed, self._found_empty_at = {}, {}
        names = self._listed.setdefault(queue, [])
        now = time.monotonic()
        if names or now - self._found_empty_at.get(queue, float("-inf")) < self.connection.polling_interval:
            return names
        found: dict[str, list[str]] = {}
        for name in os.listdir(inbox):
            if name.endswith(".msg") and not name.startswith("."):  # not a file being written
                found.setdefault(name.partition(".")[2][: -len(".msg")], []).append(name)
        for listed, new in found.items():
            if not self._listed.get(listed):
                self._listed[listed] = sorted(new, reverse=True)  # oldest first: names start with the time
        if not self._listed[queue]:
            self._found_empty_at[queue] = now
        return self._listed[queue]

    def basic_ack(self, delivery_tag: Any, multiple: bool = False) -> None:
        message = self.qos._delivered.get(delivery_tag)
        super().basic_ack(delivery_tag, multiple=multiple)
        _forget(message)

    def basic_reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        message = self.qos._delivered.get(delivery_tag)
        super().basic_reject(delivery_tag, requeue=requeue)
        _forget(message)

    def _restore(self, message: Any) -> None:
        # Put back (requeue, or channel closed with messages unacknowledged): the
        # new copy is in the queue before the held file goes.
        super()._restore(message)
        _forget(message)

    def _maybe_sweep_orphans(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < ORPHAN_SWEEP_INTERVAL_S:
            return
        self._last_sweep = now
        restore_orphans(Path(self.data_folder_in))


class Transport(filesystem.Transport):
    """kombu's filesystem transport using :class:`Channel`, with a broker state of its own."""

    Channel = Channel
    driver_type = "filesystem"
    driver_name = "filesystem"

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        # kombu keeps declared exchanges and bindings in one state shared by every
        # connection of the process. For this transport the bindings live in files
        # of each broker folder, so a binding remembered from one folder made kombu
        # skip writing it to the next, and the next folder's messages were dropped as
        # unroutable (seen: two apps with different data dirs in one process).
        self.state = BrokerState()


def restore_orphans(inbox: Path) -> int:
    """Move the messages held by dead processes back into the queue; returns how many."""
    restored = 0
    root = inbox / UNACKED_FOLDER
    if not root.is_dir():
        return 0
    for owner in root.iterdir():
        if not owner.name.isdigit() or _is_alive(int(owner.name)):
            continue
        for held in owner.iterdir():
            with contextlib.suppress(OSError):
                os.rename(held, inbox / held.name)
                restored += 1
        with contextlib.suppress(OSError):
            owner.rmdir()
    return restored


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget(message: Any) -> None:
    if message is None:
        return
    path = (getattr(message, "properties", None) or {}).get(FILE_PROPERTY)
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _write_atomically(path: Path, data: bytes) -> None:
    # The leading dot keeps the half-written file from matching any queue.
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
