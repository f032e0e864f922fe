"""sendx-worker on a private 3-node RabbitMQ cluster (tests/support/cluster.py): throughput and node loss.

    python -m bench cluster [--tasks 3000] [--processes 1 2 4] [--latency-ms 50] [--down-s 20]
                            [--scenarios throughput leader-kill dead-letters reconnect start-down]
                            [--code DIR] [--label NAME] [--ordering off]

Scenarios (each in a vhost of its own; workers are ``python -m sendx_worker worker``
given the three nodes as ``;``-separated failover URLs; the producer declares ``sendx``
through node 2, which then leads it):

  throughput    N identifies queued, then drained by ``--processes P`` for P = 1, 2, 4 (node 1
                first): tasks/s at the emulator, CPU ms per task of the workers' process tree
  leader-kill   N identifies, two worker processes, connected to nodes 1 and 2; node 2, the
                leader of ``sendx``, kill -9'd at N/3, started again once the queue is drained:
                lost, duplicates (SendX calls beyond one per e-mail), the longest gap between
                deliveries, whether the node rejoined
  dead-letters  as leader-kill, one e-mail in ten rejected by SendX (422), and
                ``sendx.dead_letter`` declared as the measured code declares it through node 3,
                where no worker is connected; node 3 kill -9'd at N/3, started again after
                --down-s: dead letters lost, SendX calls per rejected e-mail, poison records
  reconnect     as leader-kill with one worker process, on node 1, and node 1 (not a leader)
                kill -9'd: the worker's stall (longest time between its "delivered" lines), duplicates
  start-down    node 1 down, one worker process started with the three URLs: seconds to
                Celery's "ready" line and to the first delivery

``--code DIR`` runs the workers from another checkout (``git worktree add /tmp/before
COMMIT``), so the same scenarios measure the code before a fix. Results are printed as
Markdown and saved under bench/results/cluster-LABEL-*.json.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.support.cluster import RabbitCluster

from .common import REPO, Broker, EmulatorProcess, exit_on_sigterm, load_average, save_results, sendx_env
from .drain import ProcessTree, spawn, wait_for_requests
from .queueing import declare_sendx_queue, queue_depth, sendx_app

__all__ = ["SCENARIOS", "main"]

IDENTIFY = "sendx.identify_contact"
REJECT_EVERY = 10
# The timestamp that starts each of the worker's log lines (logs.KeyValueFormatter).
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}")


@dataclass(frozen=True)
class Place:
    """A vhost of the cluster, reached through the three nodes in any order."""

    cluster: RabbitCluster
    name: str
    log_dir: Path

    def broker(self, first: int = 0) -> Broker:
        """The ``;``-separated URLs of every node, node ``first + 1`` first."""
        nodes = self.cluster.nodes[first:] + self.cluster.nodes[:first]
        return Broker("rabbitmq", self.cluster.urls(self.name, nodes), self.log_dir)

    @property
    def producer(self) -> Broker:
        """The producer's broker: node 2 first, so that node 2 leads ``sendx``."""
        return self.broker(1)


@dataclass
class Bench:
    """What every scenario shares: the cluster, the emulator, where logs go, whose code runs."""

    cluster: RabbitCluster
    emulator: EmulatorProcess
    log_dir: Path
    code: Path | None
    tasks: int
    down_s: float
    ordering: str = "on"

    @contextlib.contextmanager
    def vhost(self, name: str) -> Iterator[Place]:
        """A fresh vhost, deleted afterwards."""
        with self.cluster.vhost(f"bench-{name}-{uuid.uuid4().hex[:6]}") as vhost:
            yield Place(self.cluster, vhost, self.log_dir)

    def start_workers(self, place: Place, processes: int, name: str, firsts: tuple[int, ...] = (0,)) -> ProcessTree:
        """``sendx-worker worker --processes P`` once per entry of ``firsts``, each given node ``first + 1`` first."""
        trees = []
        for number, first in enumerate(firsts):
            env = sendx_env(place.broker(first), self.emulator)
            env.update(SENDX_RETRY_BASE_S="1", SENDX_RETRY_CAP_S="5", SENDX_TIMEOUT="5")
            if self.ordering == "off":  # the duplicates that per-contact deduplication removes, measured
                env["SENDX_ORDERING"] = "off"
            if self.code is not None:
                env["PYTHONPATH"] = str(self.code)
            command = [sys.executable, "-m", "sendx_worker", "worker", "--processes", str(processes)]
            command += ["-n", f"{name}-{number}@%h"]  # node names unique in the cluster (pidbox queues)
            # ``python -m`` puts the working folder first on sys.path: run in the checkout measured.
            trees.append(spawn([command], env, self.log_dir, f"{name}-{number}", cwd=self.code or REPO))
        return ProcessTree([p for tree in trees for p in tree.processes], [log for tree in trees for log in tree.logs])

    def declare_dead_letter_queue(self, place: Place, node: int) -> None:
        """``sendx.dead_letter`` as the measured code declares it, through node ``node + 1`` (its home or leader)."""
        script = (
            "import sys; from kombu import Connection; from sendx_worker.topology import dead_letter_queue\n"
            "with Connection(sys.argv[1]) as c: dead_letter_queue()(c.default_channel).declare()"
        )
        url = self.cluster.nodes[node].url(place.name)
        subprocess.run([sys.executable, "-c", script, url], cwd=self.code or REPO, check=True, timeout=60)

    def restore(self) -> None:
        """Every node running again (after a scenario that killed one)."""
        for node in self.cluster.nodes:
            if not self.cluster.is_up(node):
                self.cluster.restart(node)


def body(number: int) -> dict[str, Any]:
    """An identify with its own e-mail and no increments (a redelivery is then a plain duplicate)."""
    return {"email": f"c{number}@example.com", "firstName": "Bench", "tags": ["cluster"]}


def fill(producer: Broker, count: int) -> None:
    """Declare the topology through the producer's first node (its leader), queue ``count`` identifies."""
    app = sendx_app(producer)
    try:
        declare_sendx_queue(app)
        with app.producer_or_acquire() as publisher:
            for number in range(count):
                app.send_task(IDENTIFY, kwargs={"payload": body(number)}, producer=publisher)
        deadline = time.monotonic() + 60
        while queue_depth(app, "sendx") < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"queued {count} tasks but they did not all arrive")
            time.sleep(0.1)
    finally:
        app.close()


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
    return value


def emails_of(log: list[dict[str, Any]]) -> list[str]:
    return [str((entry.get("body") or {}).get("email")) for entry in log if isinstance(entry.get("body"), dict)]


def settle(bench: Bench, done: Callable[[list[dict[str, Any]]], bool], timeout: float, quiet_s: float = 5.0) -> list:
    """The emulator's log once ``done(log)`` holds and no request came for ``quiet_s`` (late duplicates)."""
    deadline = time.monotonic() + timeout
    while True:
        log = bench.emulator.requests_log()
        last = max((float(entry["timestamp"]) for entry in log), default=0.0)
        if done(log) and time.time() - last >= quiet_s:
            return log
        if time.monotonic() > deadline:
            return log
        time.sleep(0.5)


def longest_gap_after(stamps: list[float], moment: float) -> float | None:
    """The longest time between consecutive ``stamps`` from the last one before ``moment`` on."""
    ordered = sorted(stamps)
    around = [stamp for stamp in ordered if stamp < moment][-1:] + [stamp for stamp in ordered if stamp >= moment]
    if len(around) < 2:
        return None
    return round(max(b - a for a, b in itertools.pairwise(around)), 2)


def kill_when(bench: Bench, count: int, pick: Callable[[], Any]) -> tuple[Any, float]:
    """Once the emulator has seen ``count`` requests, ``kill -9`` the node ``pick()`` names (asked first)."""
    node = wait_until(pick, 120, "the node to kill")
    wait_until(lambda: bench.emulator.stats()["requests"] >= count, 300, f"{count} requests", interval=0.05)
    killed_at = time.time()
    bench.cluster.kill(node)
    return node, killed_at


# --------------------------------------------------------------------------- scenarios


def throughput(bench: Bench, processes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for count in processes:
        with bench.vhost(f"tp{count}") as place:
            fill(place.producer, bench.tasks)
            bench.emulator.reset()
            load = load_average()
            tree = bench.start_workers(place, count, f"throughput-{count}")
            try:
                drain = wait_for_requests(bench.emulator, bench.tasks, tree, timeout=120 + bench.tasks / 5)
            finally:
                tree.stop()
        rows.append(
            {
                "scenario": "throughput",
                "processes": count,
                "tasks": drain.count,
                "tasks_per_s": drain.tasks_per_s,
                "cpu_ms_per_task": drain.cpu_ms_per_task,
                "peak_rss_mb": drain.peak_rss_mb,
                "load_before": load,
            }
        )
        print(f"throughput, {count} process(es): {drain.tasks_per_s} tasks/s, {drain.cpu_ms_per_task} ms CPU/task")
    return rows


def lose_a_node(bench: Bench, name: str, firsts: tuple[int, ...], pick: Callable[[Place], Any]) -> dict[str, Any]:
    """N identifies drained by one worker process per entry of ``firsts``; ``pick`` names the node killed at N/3.

    The node stays down until the queue is drained (a node that died does not come back
    in seconds), then is started again and must rejoin the cluster.
    """
    n = bench.tasks
    with bench.vhost(name) as place:
        fill(place.producer, n)
        bench.emulator.reset()
        tree = bench.start_workers(place, 1, name, firsts)
        try:
            node, killed_at = kill_when(bench, n // 3, lambda: pick(place))
            log = settle(bench, lambda log: len(set(emails_of(log))) >= n, timeout=300)
        finally:
            tree.stop()
        bench.cluster.restart(node)
        rejoined = node.name in bench.cluster.running_nodes()
    emails = emails_of(log)
    result = {
        "scenario": name,
        "tasks": n,
        "workers": len(firsts),
        "killed": node.name,
        "lost": n - len(set(emails)),
        "duplicates": len(emails) - len(set(emails)),
        "longest_gap_s": longest_gap_after([float(entry["timestamp"]) for entry in log], killed_at),
        "rejoined": rejoined,
    }
    if len(tree.logs) == 1:
        # The worker's own stall (with several, the others may drain the queue while one idles).
        result["stall_s"] = stall_in_log(tree.logs[0], killed_at)
    print(f"{name}: {result}")
    return result


def stall_in_log(path: Path, moment: float) -> float | None:
    """The longest time between a worker's ``delivered`` lines around ``moment`` (its own stall)."""
    from datetime import datetime

    stamps = []
    for line in path.read_text(errors="replace").splitlines():
        found = STAMP.match(line)
        if found and " delivered " in line:
            stamps.append(datetime.strptime(found.group(0), "%Y-%m-%d %H:%M:%S,%f").timestamp())
    return longest_gap_after(stamps, moment)


def leader_kill(bench: Bench) -> dict[str, Any]:
    """Two worker processes, on nodes 1 and 2; node 2, the leader of ``sendx``, dies."""
    return lose_a_node(bench, "leader-kill", (0, 1), lambda place: bench.cluster.holder(place.name, "sendx"))


def reconnect(bench: Bench) -> dict[str, Any]:
    """One worker process, on node 1 (the first URL); node 1 dies (``sendx``'s leader is node 2)."""
    return lose_a_node(bench, "reconnect", (0,), lambda place: bench.cluster.nodes[0])


def dead_letters(bench: Bench) -> dict[str, Any]:
    n = bench.tasks
    rejected = {f"c{number}@example.com" for number in range(0, n, REJECT_EVERY)}
    with bench.vhost("dead") as place:
        fill(place.producer, n)
        # On node 3, where no worker is connected: the workers go on while it is down.
        bench.declare_dead_letter_queue(place, 2)
        bench.emulator.reset()
        _set_faults(bench.emulator, {"script": {email: [422] * 50 for email in rejected}})
        tree = bench.start_workers(place, 1, "dead-letters", (0, 1))
        try:
            holder = lambda: bench.cluster.holder(place.name, "sendx.dead_letter")  # noqa: E731
            node, killed_at = kill_when(bench, n // 3, holder)
            delivered_rest = lambda log: len(set(emails_of(log)) - rejected) >= n - len(rejected)  # noqa: E731
            settle(bench, delivered_rest, timeout=120)
            time.sleep(max(0.0, killed_at + bench.down_s - time.time()))
            bench.cluster.restart(node)
            log = settle(bench, delivered_rest, timeout=120, quiet_s=10)
            wait_until(lambda: queue_depth(sendx_app(place.producer), "sendx") == 0, 120, "an empty sendx queue")
            records = _dead_letter_records(place.producer)
        finally:
            tree.stop()
            _set_faults(bench.emulator, {"script": {}})
    calls = Counter(email for email in emails_of(log) if email in rejected)
    recorded = Counter(r.payload.get("email") for r in records if isinstance(r.payload, dict))
    result = {
        "scenario": "dead-letters",
        "tasks": n,
        "rejected": len(rejected),
        "killed": node.name,
        "down_s": bench.down_s,
        "dead_letters": len(records),
        "lost_dead_letters": len(rejected - set(recorded)),
        "duplicate_dead_letters": sum(count - 1 for count in recorded.values() if count > 1),
        "poison": sum(r.reason == "poison" for r in records),
        "sendx_calls_per_rejected": {"max": max(calls.values(), default=0), "extra": sum(calls.values()) - len(calls)},
        "lost_deliveries": n - len(rejected) - len(set(emails_of(log)) - rejected),
    }
    print(f"dead-letters: {result}")
    return result


def start_down(bench: Bench) -> dict[str, Any]:
    with bench.vhost("startdown") as place:
        fill(place.producer, 200)
        bench.emulator.reset()
        bench.cluster.kill(bench.cluster.nodes[0])
        try:
            started = time.time()
            tree = bench.start_workers(place, 1, "start-down")
            try:
                wait_until(lambda: bench.emulator.stats()["requests"] > 0, 120, "a first delivery")
                first_delivery = time.time() - started
                ready = _ready_after(tree.logs[0], started)
            finally:
                tree.stop()
        finally:
            bench.restore()
    result = {
        "scenario": "start-down",
        "down": bench.cluster.nodes[0].name,
        "ready_s": ready,
        "first_delivery_s": round(first_delivery, 2),
    }
    print(f"start-down: {result}")
    return result


SCENARIOS = ("throughput", "leader-kill", "dead-letters", "reconnect", "start-down")


def _set_faults(emulator: EmulatorProcess, faults: dict[str, Any]) -> None:
    requests.post(f"{emulator.url}/_emulator/faults", json=faults, timeout=30).raise_for_status()


def _dead_letter_records(producer: Broker) -> list[Any]:
    from sendx_worker.deadletter import DeadLetterQueue

    app = sendx_app(producer)
    try:
        return DeadLetterQueue(app.connection_for_write).records()
    finally:
        app.close()


def _ready_after(log: Path, started: float) -> float | None:
    """Seconds from ``started`` to the log's "ready." line (by the line's own timestamp)."""
    from datetime import datetime

    for line in log.read_text(errors="replace").splitlines():
        stamp = STAMP.search(line)
        if " ready." in line and stamp:
            moment = datetime.strptime(stamp.group(0), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            return round(moment - started, 2)
    return None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench cluster", description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=3000)
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--latency-ms", type=float, default=50)
    p.add_argument("--down-s", type=float, default=20, help="how long the dead-letter node stays down")
    p.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    p.add_argument("--code", type=Path, help="run the workers from this checkout instead")
    p.add_argument("--label", default="now", help="names the results file: cluster-LABEL-*.json")
    p.add_argument("--ordering", choices=["on", "off"], default="on", help="SENDX_ORDERING of the workers")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    exit_on_sigterm()
    code = args.code.resolve() if args.code else None
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sendx-bench-cluster-")))
        cluster = RabbitCluster.build()
        stack.callback(cluster.destroy)
        print(f"cluster of {len(cluster.nodes)} nodes up in {time.monotonic() - started:.0f} s", flush=True)
        emulator = stack.enter_context(EmulatorProcess(args.latency_ms))
        bench = Bench(cluster, emulator, log_dir, code, args.tasks, args.down_s, args.ordering)
        for scenario in args.scenarios:
            try:
                if scenario == "throughput":
                    results += throughput(bench, args.processes)
                else:
                    results.append(globals()[scenario.replace("-", "_")](bench))
            except Exception as exc:  # a failed scenario is a result too; the others still run
                results.append({"scenario": scenario, "error": f"{type(exc).__name__}: {exc}"})
                print(f"{scenario}: FAILED: {exc}", flush=True)
                bench.restore()
            if os.environ.get("BENCH_KEEP_LOGS"):
                for path in log_dir.iterdir():
                    print(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
    path = save_results(
        f"cluster-{args.label}",
        {
            "latency_ms": args.latency_ms,
            "tasks": args.tasks,
            "ordering": args.ordering,
            "code": str(code or "this checkout"),
            "results": results,
        },
    )
    print(f"saved {path}")
    return 1 if any("error" in r for r in results) else 0
