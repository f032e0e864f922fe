"""sendx-worker on a private 3-node RabbitMQ cluster (tests/support/cluster.py): throughput and node loss.

    python -m bench cluster [--tasks 3000] [--processes 1 2 4] [--latency-ms 50] [--down-s 20]
                            [--scenarios throughput leader-kill dead-letters reconnect start-down]
                            [--code DIR] [--label NAME]

Scenarios (each in a vhost of its own; workers are ``python -m sendx_worker worker
--processes P`` given the three nodes as ``;``-separated failover URLs, node 1 first;
queues are declared through node 2, so node 2 leads ``sendx``):

  throughput    N identifies queued, then drained with P = 1, 2, 4 worker processes: tasks/s
                at the emulator, CPU ms per task of the workers' process tree
  leader-kill   N identifies, 2 worker processes; the leader of ``sendx`` kill -9'd at N/3 and
                started again: lost, duplicates (SendX calls beyond one per e-mail), longest gap
  dead-letters  N identifies, one e-mail in ten rejected by SendX (422); the node holding
                ``sendx.dead_letter`` kill -9'd at N/3, started again after --down-s: dead
                letters lost, SendX calls per rejected e-mail, poison records
  reconnect     one worker process, connected to node 1; node 1 kill -9'd at N/3 (not the
                queue's leader): seconds from the kill to the next delivery, duplicates
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
import sys
import tempfile
import threading
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


@dataclass
class Bench:
    """What every scenario shares: the cluster, the emulator, where logs go, whose code runs."""

    cluster: RabbitCluster
    emulator: EmulatorProcess
    log_dir: Path
    code: Path | None
    tasks: int
    down_s: float

    @contextlib.contextmanager
    def vhost(self, name: str) -> Iterator[tuple[Broker, Broker]]:
        """A fresh vhost: the workers' broker (node 1 first) and the producer's (node 2 first)."""
        vhost = f"bench-{name}-{uuid.uuid4().hex[:6]}"
        nodes = self.cluster.nodes
        with self.cluster.vhost(vhost):
            workers = Broker("rabbitmq", self.cluster.urls(vhost, nodes), self.log_dir)
            producer = Broker("rabbitmq", self.cluster.urls(vhost, [nodes[1], nodes[2], nodes[0]]), self.log_dir)
            yield workers, producer

    def start_workers(self, broker: Broker, processes: int, name: str) -> ProcessTree:
        env = sendx_env(broker, self.emulator)
        env.update(SENDX_RETRY_BASE_S="1", SENDX_RETRY_CAP_S="5", SENDX_TIMEOUT="5")
        if self.code is not None:
            env["PYTHONPATH"] = str(self.code)
        command = [sys.executable, "-m", "sendx_worker", "worker", "--processes", str(processes)]
        # ``python -m`` puts the working folder first on sys.path: run in the checkout whose code is measured.
        return spawn([command], env, self.log_dir, name, cwd=self.code or REPO)

    def restore(self) -> None:
        """Every node running again (after a scenario that killed one)."""
        for node in self.cluster.nodes:
            if not self.cluster.is_up(node):
                self.cluster.restart(node)


def vhost_of(broker: Broker) -> str:
    return str(broker.url).split(";")[0].rsplit("/", 1)[1]


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


def gaps_after(log: list[dict[str, Any]], moment: float) -> tuple[float | None, float | None]:
    """Seconds from ``moment`` to the first request after it, and the longest gap between requests after it."""
    stamps = sorted(float(entry["timestamp"]) for entry in log)
    after = [stamp for stamp in stamps if stamp >= moment]
    if not after:
        return None, None
    before = [stamp for stamp in stamps if stamp < moment][-1:]
    points = before + after
    longest = max((b - a for a, b in itertools.pairwise(points)), default=0.0)
    return round(after[0] - moment, 2), round(longest, 2)


def kill_when(bench: Bench, count: int, pick: Callable[[], Any]) -> tuple[Any, float]:
    """Once the emulator has seen ``count`` requests, ``kill -9`` the node ``pick()`` names."""
    wait_until(lambda: bench.emulator.stats()["requests"] >= count, 300, f"{count} requests")
    node = pick()
    killed_at = time.time()
    bench.cluster.kill(node)
    return node, killed_at


# --------------------------------------------------------------------------- scenarios


def throughput(bench: Bench, processes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for count in processes:
        with bench.vhost(f"tp{count}") as (workers, producer):
            fill(producer, bench.tasks)
            bench.emulator.reset()
            load = load_average()
            tree = bench.start_workers(workers, count, f"throughput-{count}")
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


def lose_a_node(bench: Bench, name: str, processes: int, pick: Callable[[str], Any]) -> dict[str, Any]:
    """N identifies drained by ``processes`` worker processes; ``pick(vhost)`` names the node killed at N/3.

    The node is started again at once (in the background), as a supervisor would.
    """
    n = bench.tasks
    with bench.vhost(name) as (workers, producer):
        fill(producer, n)
        bench.emulator.reset()
        tree = bench.start_workers(workers, processes, name)
        try:
            node, killed_at = kill_when(bench, n // 3, lambda: pick(vhost_of(producer)))
            restarter = threading.Thread(target=bench.cluster.restart, args=(node,))
            restarter.start()
            log = settle(bench, lambda log: len(set(emails_of(log))) >= n, timeout=300)
            restarter.join()
        finally:
            tree.stop()
    emails = emails_of(log)
    first, longest = gaps_after(log, killed_at)
    result = {
        "scenario": name,
        "tasks": n,
        "processes": processes,
        "killed": node.name,
        "lost": n - len(set(emails)),
        "duplicates": len(emails) - len(set(emails)),
        "first_delivery_after_kill_s": first,
        "longest_gap_s": longest,
    }
    print(f"{name}: {result}")
    return result


def leader_kill(bench: Bench) -> dict[str, Any]:
    """Two worker processes; the leader of ``sendx`` dies."""
    return lose_a_node(bench, "leader-kill", 2, lambda vhost: bench.cluster.holder(vhost, "sendx"))


def reconnect(bench: Bench) -> dict[str, Any]:
    """One worker process, connected to node 1 (the first URL); node 1 dies (``sendx``'s leader is node 2)."""
    return lose_a_node(bench, "reconnect", 1, lambda vhost: bench.cluster.nodes[0])


def dead_letters(bench: Bench) -> dict[str, Any]:
    n = bench.tasks
    rejected = {f"c{number}@example.com" for number in range(0, n, REJECT_EVERY)}
    with bench.vhost("dead") as (workers, producer):
        fill(producer, n)
        bench.emulator.reset()
        _set_faults(bench.emulator, {"script": {email: [422] * 50 for email in rejected}})
        tree = bench.start_workers(workers, 2, "dead-letters")
        try:
            holder = lambda: bench.cluster.holder(vhost_of(producer), "sendx.dead_letter")  # noqa: E731
            node, killed_at = kill_when(bench, n // 3, holder)
            delivered_rest = lambda log: len(set(emails_of(log)) - rejected) >= n - len(rejected)  # noqa: E731
            settle(bench, delivered_rest, timeout=120)
            time.sleep(max(0.0, killed_at + bench.down_s - time.time()))
            bench.cluster.restart(node)
            log = settle(bench, delivered_rest, timeout=120, quiet_s=10)
            wait_until(lambda: queue_depth(sendx_app(producer), "sendx") == 0, 120, "an empty sendx queue")
            records = _dead_letter_records(producer)
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
    with bench.vhost("startdown") as (workers, producer):
        fill(producer, 200)
        bench.emulator.reset()
        bench.cluster.kill(bench.cluster.nodes[0])
        try:
            started = time.time()
            tree = bench.start_workers(workers, 1, "start-down")
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
        stamp = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", line)
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
        bench = Bench(cluster, emulator, log_dir, code, args.tasks, args.down_s)
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
        {"latency_ms": args.latency_ms, "tasks": args.tasks, "code": str(code or "this checkout"), "results": results},
    )
    print(f"saved {path}")
    return 1 if any("error" in r for r in results) else 0
