"""The emulator's ceiling: how many identify requests per second it serves on this machine.

    python -m bench.emulator_ceiling --requests 20000 --threads 32 [--latency-ms 0] [--runs 3]
                                     [--client requests|http.client] [--json]

The emulator runs in its own process (``python -m sendx_worker.emulator --port 0``, as a
worker's tests and demos run it); this process drives it with ``threads`` threads, each
with its own keep-alive ``requests.Session`` (the worker's HTTP client), posting v1
identify bodies. Client and server share the machine's cores, and ``requests`` costs
several times the emulator's CPU per call, so the figure is what such a client gets out
of the emulator here. ``--client http.client`` drives it with a much cheaper client, to
come closer to the emulator's own limit; the server's CPU time per request (via psutil,
when installed) says what the emulator itself costs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import selectors
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

__all__ = ["main", "run"]

TEAM, KEY = "team-1", "bench-key"
_DISTINCT_CONTACTS = 5000  # updates as well as creations, as a worker's traffic has


def run(requests: int, threads: int, latency_ms: float, *, client: str = "requests") -> dict[str, Any]:
    """Start an emulator process, push ``requests`` identify calls through it, return the figures."""
    if client not in CLIENTS:
        raise ValueError(f"client must be one of {', '.join(CLIENTS)}")
    process, url = _start_emulator(latency_ms)
    try:
        cpu_before = _cpu_seconds(process.pid)
        figures = _drive(url, requests, threads, CLIENTS[client])
        cpu_after = _cpu_seconds(process.pid)
        served = _session(1).get(f"{url}/_emulator/stats", timeout=10).json()
    finally:
        _stop_emulator(process)
    if cpu_before is not None and cpu_after is not None:
        # The warm-up requests are in the server's CPU time too; they are few (one per thread).
        figures["server_cpu_ms_per_request"] = round((cpu_after - cpu_before) * 1000 / (requests + threads), 3)
    figures.update(latency_ms=latency_ms, threads=threads, client=client, server_counted=served["requests"])
    return figures


Post = Callable[[dict[str, Any]], int]


def _requests_client(url: str) -> tuple[Post, Callable[[], None]]:
    session = _session(1)  # one connection per thread: the pool is sized to the threads
    endpoint = f"{url}/api/v1/contact/identify?team_id={TEAM}"
    headers = {"api_key": KEY}

    def post(body: dict[str, Any]) -> int:
        return session.post(endpoint, json=body, headers=headers, timeout=30).status_code

    return post, session.close


def _http_client(url: str) -> tuple[Post, Callable[[], None]]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    path = f"/api/v1/contact/identify?team_id={TEAM}"
    headers = {"api_key": KEY, "Content-Type": "application/json"}

    def post(body: dict[str, Any]) -> int:
        connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        answer = connection.getresponse()
        answer.read()
        return answer.status

    return post, connection.close


CLIENTS: dict[str, Callable[[str], tuple[Post, Callable[[], None]]]] = {
    "requests": _requests_client,
    "http.client": _http_client,
}


def _drive(
    url: str, total: int, threads: int, connect: Callable[[str], tuple[Post, Callable[[], None]]]
) -> dict[str, Any]:
    shares = [total // threads + (1 if index < total % threads else 0) for index in range(threads)]
    ready = threading.Barrier(threads + 1)

    def worker(index: int) -> tuple[list[float], Counter[int]]:
        post, close = connect(url)
        post({"email": f"warmup{index}@example.com"})  # opens the keep-alive connection
        ready.wait()
        timings: list[float] = []
        statuses: Counter[int] = Counter()
        for number in range(index, index + shares[index] * threads, threads):
            body = {
                "email": f"user{number % _DISTINCT_CONTACTS}@example.com",
                "firstName": "Bench",
                "tags": ["bench"],
                "customFields": {"Visits": "++1"},
            }
            started = time.perf_counter()
            statuses[post(body)] += 1
            timings.append(time.perf_counter() - started)
        close()
        return timings, statuses

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(worker, index) for index in range(threads)]
        ready.wait()
        started, client_cpu = time.perf_counter(), time.process_time()
        results = [future.result() for future in futures]
        elapsed, client_cpu = time.perf_counter() - started, time.process_time() - client_cpu
    timings = sorted(t for result, _ in results for t in result)
    statuses = sum((counts for _, counts in results), Counter[int]())
    centiles = statistics.quantiles(timings, n=100, method="inclusive")
    return {
        "requests": len(timings),
        "seconds": round(elapsed, 3),
        "requests_per_s": round(len(timings) / elapsed, 1),
        "p50_ms": round(centiles[49] * 1000, 2),
        "p99_ms": round(centiles[98] * 1000, 2),
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "client_cpu_ms_per_request": round(client_cpu * 1000 / len(timings), 3),
    }


def _session(connections: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=connections)
    session.mount("http://", adapter)
    return session


def _start_emulator(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "sendx_worker.emulator", "--port", "0"]
    command += ["--team-id", TEAM, "--api-key", KEY, "--latency-ms", str(latency_ms)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        line = process.stdout.readline() if selector.select(30) else ""
    match = re.search(r"listening on (http://\S+) ", line)
    if match is None:
        process.kill()
        raise RuntimeError(f"the emulator did not say where it listens: {line!r}")
    return process, match.group(1)


def _stop_emulator(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _cpu_seconds(pid: int) -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark ``--runs`` times and print each run and the medians."""
    parser = argparse.ArgumentParser(prog="python -m bench.emulator_ceiling", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--client", choices=sorted(CLIENTS), default="requests", help="(default requests)")
    parser.add_argument("--json", action="store_true", help="print the runs and medians as one JSON object")
    args = parser.parse_args(argv)
    runs = [run(args.requests, args.threads, args.latency_ms, client=args.client) for _ in range(args.runs)]
    medians = {key: statistics.median(r[key] for r in runs) for key in ("requests_per_s", "p50_ms", "p99_ms")}
    if args.json:
        print(json.dumps({"runs": runs, "median": medians}, indent=2))
        return 0
    for number, figures in enumerate(runs, 1):
        print(
            f"run {number}: {figures['requests_per_s']:.0f} req/s, p50 {figures['p50_ms']:.2f} ms, "
            f"p99 {figures['p99_ms']:.2f} ms, statuses {figures['statuses']}, "
            f"server CPU {figures.get('server_cpu_ms_per_request', '?')} ms/req, "
            f"client CPU {figures['client_cpu_ms_per_request']} ms/req"
        )
    print(
        f"median of {len(runs)}: {medians['requests_per_s']:.0f} req/s, "
        f"p50 {medians['p50_ms']:.2f} ms, p99 {medians['p99_ms']:.2f} ms "
        f"({args.requests} requests, {args.threads} threads, latency {args.latency_ms:g} ms, client {args.client})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
