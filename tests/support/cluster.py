"""A private 3-node RabbitMQ cluster on loopback, built from the machine's ``rabbitmq-server``.

Used by the cluster tests (tests/cluster/) and by ``python -m bench cluster``. Each
cluster has its own node names, ports, Erlang cookie, epmd port and data folders, so it
never touches the shared node on 5672. Recipe: /work/shared/MEASURED.md ("A 3-node
RabbitMQ cluster on one machine"), as root:

- ``/usr/lib/rabbitmq/bin/rabbitmq-server`` and ``rabbitmqctl`` are called directly (the
  ``/usr/sbin`` wrappers switch to the ``rabbitmq`` user and its cookie), with a ``HOME``
  of our own holding the cookie;
- ``RABBITMQ_CONF_ENV_FILE`` points at an empty file (the machine's forces
  ``NODENAME=rabbit@localhost``), and every port and folder is given per node;
- the nodes start together, then nodes 2 and 3 ``join_cluster`` node 1.

A run holds one of a few *slots* (a lock file; each slot has its own ports), so two
test runs on one machine never share a cluster. A slot's leftovers from a run that was
killed (nodes, epmd, folders) are removed before the slot is used again, and
:meth:`RabbitCluster.destroy` (also run at exit) kills this run's nodes.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
SLOTS = 4
NODES = 3
# Slot s uses AMQP ports BASE + 10*s + 1..3, distribution ports +100, epmd BASE + 10*s + 200:
# below the kernel's ephemeral range (32768-60999 here), and clear of 35672-35682, where
# rabbitmqctl's own Erlang distribution listens (RabbitMQ's default distribution port + 10000).
BASE_PORT = 27100
COOKIE = "SENDXTESTCLUSTERCOOKIE"
START_TIMEOUT_S = 120


def available() -> str | None:
    """Why a cluster cannot be built here, or None when it can."""
    if not (RABBITMQ_BIN / "rabbitmq-server").exists():
        return f"no {RABBITMQ_BIN / 'rabbitmq-server'}"
    if os.geteuid() != 0:
        return "building a RabbitMQ cluster needs root (the recipe runs the server binaries directly)"
    return None


@dataclass
class Node:
    """One node of the cluster."""

    index: int
    name: str
    amqp_port: int
    dist_port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid_file(self) -> Path:
        return self.folder / "rabbit.pid"

    @property
    def log_folder(self) -> Path:
        return self.folder / "log"

    def vm_pid(self) -> int | None:
        """The Erlang VM's pid (``rabbitmq-server`` is a shell that does not exec it)."""
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def url(self, vhost: str = "/", user: str = "guest", password: str = "guest") -> str:  # noqa: S107
        """``amqp://user:password@127.0.0.1:PORT/vhost``."""
        return f"amqp://{user}:{password}@127.0.0.1:{self.amqp_port}/{urllib.parse.quote(vhost, safe='')}"


class RabbitCluster:
    """A 3-node cluster in one slot; :meth:`start` builds it, :meth:`destroy` removes every trace."""

    def __init__(self, slot: int, lock: IO[str], root: Path) -> None:
        self.slot = slot
        self._lock = lock
        self.root = root
        base = BASE_PORT + 10 * slot
        self.epmd_port = base + 200
        self.nodes = [
            Node(i, f"sendx{slot}n{i}@localhost", base + i, base + 100 + i, root / f"n{i}") for i in range(1, NODES + 1)
        ]
        self._destroyed = False
        # The VMs' command lines name no node (3.10 passes the name in the environment),
        # but each carries ``-home`` with this slot's folder.
        self._marker = f"-home {root / 'home'} "

    # --- building and tearing down --------------------------------------------------------

    @classmethod
    def build(cls) -> RabbitCluster:
        """Claim a free slot, clear its leftovers and start a clustered set of nodes."""
        reason = available()
        if reason:
            raise RuntimeError(f"cannot build a RabbitMQ cluster: {reason}")
        slot, lock = _claim_slot()
        cluster = cls(slot, lock, _root(slot))
        _clear_abandoned_slots()
        atexit.register(cluster.destroy)
        try:
            cluster.start()
        except BaseException:
            cluster.keep_logs()
            cluster.destroy()
            raise
        return cluster

    def keep_logs(self) -> Path:
        """Copy the nodes' logs next to the slot's folder (it is removed on destroy); returns where."""
        kept = self.root.with_name(self.root.name + "-logs")
        shutil.rmtree(kept, ignore_errors=True)
        for node in self.nodes:
            with contextlib.suppress(OSError):
                shutil.copytree(node.log_folder, kept / node.folder.name)
        return kept

    def start(self) -> None:
        self._clear_leftovers()
        self._lay_out()
        for node in self.nodes:
            self._launch(node)
        with ThreadPoolExecutor(NODES) as pool:
            list(pool.map(self.wait_running, self.nodes))
        first = self.nodes[0]
        for node in self.nodes[1:]:
            self.ctl(node, "stop_app")
            self.ctl(node, "join_cluster", first.name)
            self.ctl(node, "start_app")
        running = self.running_nodes()
        if sorted(running) != sorted(n.name for n in self.nodes):
            raise RuntimeError(f"the cluster did not form: running nodes {running}")

    def destroy(self) -> None:
        """Kill every node and this slot's epmd, remove the folders and release the slot."""
        if self._destroyed:
            return
        self._destroyed = True
        for node in self.nodes:
            self.kill(node)
        self._clear_leftovers()
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()

    def _clear_leftovers(self) -> None:
        """A run killed without cleaning up left nodes and an epmd on this slot's ports: end them."""
        for pid in _pids_mentioning({self._marker}):
            _kill(pid)
        for node in self.nodes:
            _kill_listener(node.amqp_port, "beam")
            _kill_listener(node.dist_port, "beam")
        _kill_listener(self.epmd_port, "epmd")
        shutil.rmtree(self.root, ignore_errors=True)

    def _lay_out(self) -> None:
        home = self.root / "home"
        home.mkdir(parents=True)
        cookie = home / ".erlang.cookie"
        cookie.write_text(COOKIE)
        cookie.chmod(0o400)
        (self.root / "rabbitmq-env.conf").write_text("")
        for node in self.nodes:
            (node.folder / "mnesia").mkdir(parents=True)
            node.log_folder.mkdir()
            (node.folder / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{node.amqp_port}\n")
            (node.folder / "enabled_plugins").write_text("[].\n")

    def env(self, node: Node | None = None) -> dict[str, str]:
        """The environment for ``rabbitmq-server`` (node given) or ``rabbitmqctl``."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RABBITMQ_", "ERL_")) and key not in ("HOME",)
        }
        env.update(
            HOME=str(self.root / "home"),
            RABBITMQ_CONF_ENV_FILE=str(self.root / "rabbitmq-env.conf"),
            ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        if node is not None:
            env.update(
                RABBITMQ_NODENAME=node.name,
                RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
                RABBITMQ_NODE_PORT=str(node.amqp_port),
                RABBITMQ_DIST_PORT=str(node.dist_port),
                RABBITMQ_CONFIG_FILE=str(node.folder / "rabbitmq.conf"),
                RABBITMQ_ADVANCED_CONFIG_FILE=str(node.folder / "advanced.config"),
                RABBITMQ_MNESIA_BASE=str(node.folder / "mnesia"),
                RABBITMQ_LOG_BASE=str(node.log_folder),
                RABBITMQ_PID_FILE=str(node.pid_file),
                RABBITMQ_ENABLED_PLUGINS_FILE=str(node.folder / "enabled_plugins"),
                RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            )
        return env

    def _launch(self, node: Node) -> None:
        with contextlib.suppress(FileNotFoundError):
            node.pid_file.unlink()
        out = (node.log_folder / "server.out").open("ab")
        node.process = subprocess.Popen(
            [str(RABBITMQ_BIN / "rabbitmq-server")],
            env=self.env(node),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()

    def wait_running(self, node: Node) -> None:
        """Until ``node`` runs RabbitMQ (its pid file written and the app started)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while not node.pid_file.exists():
            if node.process is not None and node.process.poll() is not None:
                raise RuntimeError(f"{node.name} exited with {node.process.returncode}: {self._tail(node)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{node.name} wrote no pid file in {START_TIMEOUT_S} s: {self._tail(node)}")
            time.sleep(0.2)
        # The pid file comes first; the node answers rabbitmqctl once it is in epmd, and
        # await_startup returns once RabbitMQ runs (it fails at once while the node boots).
        while True:
            try:
                self.ctl(node, "await_startup", "--timeout", "10", timeout=40)
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _tail(self, node: Node) -> str:
        try:
            return (node.log_folder / "server.out").read_text(errors="replace")[-2000:]
        except OSError:
            return "(no output)"

    # --- failures ----------------------------------------------------------------------

    def kill(self, node: Node) -> None:
        """``kill -9`` the node's Erlang VM (and its launching shell)."""
        pid = node.vm_pid()
        if pid is not None and _cmdline_mentions(pid, {self._marker}):
            _kill(pid)
            _wait_gone(pid)
        if node.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.process.pid, signal.SIGKILL)
            node.process.wait(timeout=30)
            node.process = None
        with contextlib.suppress(FileNotFoundError):
            node.pid_file.unlink()

    def restart(self, node: Node) -> None:
        """Start a killed node again; it rejoins the cluster from its own data."""
        self.kill(node)
        self._launch(node)
        self.wait_running(node)

    def is_up(self, node: Node) -> bool:
        pid = node.vm_pid()
        return pid is not None and _cmdline_mentions(pid, {self._marker}) and _state(pid) not in ("Z", "")

    # --- questions and administration ------------------------------------------------------

    def ctl(self, node: Node, *args: str, timeout: float = 120) -> str:
        """``rabbitmqctl -n NODE ARGS``; its stdout."""
        done = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-q", "-n", node.name, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} on {node.name}: {done.stderr.strip() or done.stdout}")
        return done.stdout

    def any_up(self) -> Node:
        for node in self.nodes:
            if self.is_up(node):
                return node
        raise RuntimeError("no node of the cluster is running")

    def running_nodes(self) -> list[str]:
        status = json.loads(self.ctl(self.any_up(), "cluster_status", "--formatter", "json"))
        return [str(name) for name in status.get("running_nodes", [])]

    def add_vhost(self, vhost: str) -> None:
        node = self.any_up()
        self.ctl(node, "add_vhost", vhost)
        self.ctl(node, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")

    def delete_vhost(self, vhost: str) -> None:
        self.ctl(self.any_up(), "delete_vhost", vhost)

    @contextlib.contextmanager
    def vhost(self, vhost: str) -> Iterator[str]:
        """A vhost of its own for one test or benchmark, deleted afterwards."""
        self.add_vhost(vhost)
        try:
            yield vhost
        finally:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.delete_vhost(vhost)

    def queues(self, vhost: str) -> dict[str, dict[str, Any]]:
        """Each queue's ``type``, ``messages`` and ``node``: its leader (quorum) or home node (classic)."""
        # Tab-separated, not --formatter json: JSON shows a classic queue's pid without its node.
        out = self.ctl(self.any_up(), "list_queues", "-p", vhost, "name", "type", "messages", "leader", "pid")
        found: dict[str, dict[str, Any]] = {}
        for line in out.splitlines():
            cells = line.split("\t")
            if len(cells) < 5 or not cells[2].isdigit():
                continue
            name, kind, messages, leader, pid = cells[:5]
            home = pid.strip("<>").rsplit(".", 3)[0] if pid.startswith("<") else ""
            found[name] = {"type": kind, "messages": int(messages), "node": leader or home or None}
        return found

    def node_named(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def holder(self, vhost: str, queue: str) -> Node:
        """The node that leads ``queue`` (quorum) or holds it (classic)."""
        info = self.queues(vhost).get(queue)
        if not info or not info.get("node"):
            raise RuntimeError(f"queue {queue!r} not found in vhost {vhost!r}")
        return self.node_named(str(info["node"]))

    def urls(self, vhost: str, order: Sequence[Node] | None = None) -> str:
        """The ``;``-separated failover list of every node (in ``order`` if given), for ``CELERY_BROKER_URL``."""
        return ";".join(node.url(vhost) for node in (order or self.nodes))


def _root(slot: int) -> Path:
    return Path(tempfile.gettempdir()) / f"sendx-test-cluster-{slot}"


def _try_lock(slot: int) -> IO[str] | None:
    lock = open(Path(tempfile.gettempdir()) / f"sendx-test-cluster-{slot}.lock", "w")  # noqa: SIM115
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


def _claim_slot() -> tuple[int, IO[str]]:
    for slot in range(SLOTS):
        lock = _try_lock(slot)
        if lock is not None:
            return slot, lock
    raise RuntimeError(f"all {SLOTS} RabbitMQ cluster slots are in use by other runs")


def _clear_abandoned_slots() -> None:
    """End what killed runs left in the slots no run holds (a lock dies with its process)."""
    for slot in range(SLOTS):
        lock = _try_lock(slot)
        if lock is None:
            continue  # in use: ours, or another run's
        abandoned = RabbitCluster(slot, lock, _root(slot))
        if abandoned.root.exists():
            abandoned.destroy()
        else:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _wait_gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # A killed child of ours stays a zombie until reaped; the VM is the shell's child.
        if _state(pid) == "Z":
            return
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _cmdline_mentions(pid: int, names: set[str]) -> bool:
    line = _cmdline(pid)
    return any(name in line for name in names)


def _pids_mentioning(names: set[str]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid() and _cmdline_mentions(int(entry.name), names):
            found.append(int(entry.name))
    return found


def _kill_listener(port: int, program: str) -> None:
    """Kill the process named like ``program`` that listens on TCP ``port`` of loopback, if any."""
    import psutil

    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            with contextlib.suppress(psutil.Error):
                if program in psutil.Process(conn.pid).name():
                    _kill(conn.pid)
                    _wait_gone(conn.pid)
