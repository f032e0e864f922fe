"""The references: no queue at all, just threads posting the same bodies.

The hand-written pool a user might write instead of a task queue: each process runs
``threads`` threads, each with its own keep-alive ``requests.Session`` (as sendx-worker's
client keeps one per thread), posting its share of the identify bodies ``first ..
first+count-1``. ``--client http.client`` posts them with the standard library's
``http.client`` instead, one keep-alive connection per thread: the floor of Python HTTP
here. Processes start, get ready, then wait for "go" on stdin so that several of them
start posting together; once their share is posted they say "done" and wait for a line
or EOF on stdin before exiting, so that the benchmark reads their CPU time while they
are still alive::

    python -m bench.reference --url http://127.0.0.1:PORT --first 0 --count 5000 --threads 32
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from .common import KEY, REPO, TEAM, identify_body
from .drain import ProcessTree
from .emulator_ceiling import _http_client

__all__ = ["CLIENTS", "finish_reference", "start_reference"]

CLIENTS = ("requests", "http.client")


def start_reference(
    url: str,
    count: int,
    *,
    threads: int,
    processes: int,
    env: Mapping[str, str],
    log_dir: Path,
    client: str = "requests",
) -> ProcessTree:
    """Start ``processes`` reference processes sharing ``count`` bodies; return once all are posting."""
    shares = [count // processes + (1 if index < count % processes else 0) for index in range(processes)]
    started: list[subprocess.Popen[str]] = []
    logs: list[Path] = []
    first = 0
    for index, share in enumerate(shares):
        log = log_dir / f"reference-{index}.log"
        command = [sys.executable, "-m", "bench.reference", "--url", url]
        command += ["--first", str(first), "--count", str(share), "--threads", str(threads), "--client", client]
        with log.open("w") as sink:
            started.append(
                subprocess.Popen(
                    command,
                    env=dict(env),
                    cwd=REPO,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=sink,
                    text=True,
                )
            )
        logs.append(log)
        first += share
    tree = ProcessTree(list(started), logs)
    for process in started:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            tree.stop()
            raise RuntimeError(f"a reference process did not get ready:\n{tree.log_tail()}")
    for process in started:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    return tree


def finish_reference(tree: ProcessTree, timeout: float = 60) -> None:
    """Let the reference processes exit (they wait once done); raise if one of them failed."""
    for process in tree.processes:
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
    for process in tree.processes:
        if process.wait(timeout=timeout) != 0:
            raise RuntimeError(f"the reference failed:\n{tree.log_tail()}")


def _post_share(url: str, numbers: range, ready: threading.Barrier, failures: list[str]) -> None:
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=1))
    endpoint = f"{url}/api/v1/contact/identify"
    ready.wait()
    for number in numbers:
        response = session.post(
            endpoint, params={"team_id": TEAM}, headers={"api_key": KEY}, json=identify_body(number), timeout=30
        )
        if response.status_code != 200:
            failures.append(f"{response.status_code} {response.text[:200]}")
    session.close()


def _post_share_http_client(url: str, numbers: range, ready: threading.Barrier, failures: list[str]) -> None:
    post, close = _http_client(url)
    ready.wait()
    for number in numbers:
        status = post(identify_body(number))
        if status != 200:
            failures.append(str(status))
    close()


def main(argv: list[str] | None = None) -> int:
    """Run one reference process (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench.reference", description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="the emulator, http://HOST:PORT")
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--client", choices=CLIENTS, default="requests")
    args = parser.parse_args(argv)
    post_share = _post_share if args.client == "requests" else _post_share_http_client
    end = args.first + args.count
    ready = threading.Barrier(args.threads + 1)
    failures: list[str] = []
    workers = [
        threading.Thread(target=post_share, args=(args.url, range(args.first + i, end, args.threads), ready, failures))
        for i in range(args.threads)
    ]
    for worker in workers:
        worker.start()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    ready.wait()
    for worker in workers:
        worker.join()
    print("done", flush=True)
    sys.stdin.readline()  # the benchmark takes our CPU time now, then closes stdin
    if failures:
        print(f"{len(failures)} failed requests, e.g. {failures[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
