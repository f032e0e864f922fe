"""How long one read of the whole dead-letter queue takes, on each broker (docs/CONSOLE.md, "Limits").

    PYTHONPATH=. python bench/dead_letter_reads.py 1000

Adds N records to an isolated RabbitMQ vhost, Redis database and embedded broker
folder, then times three ``DeadLetterQueue.records()`` (the read behind every
console page and ``dead list``). Needs the test services (scripts/services).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from sendx_worker.cli.broker import pinned_app
from sendx_worker.deadletter import DeadLetterQueue
from sendx_worker.settings import load_settings
from tests.console.conftest import fabricated
from tests.support.brokers import isolated_broker


def main(count: int) -> None:
    for kind in ("rabbitmq", "redis", "filesystem"):
        folder = Path(tempfile.mkdtemp(prefix="sendx-dl-reads-"))
        with isolated_broker(kind, folder) as broker:
            env = {"SENDX_DATA_DIR": str(folder)}
            if kind != "filesystem":
                env["CELERY_BROKER_URL"] = broker.url
            app = pinned_app(load_settings(env))
            queue = DeadLetterQueue(app.connection_for_write)
            queue.add(fabricated(f"{n:032x}", f"user{n}@example.com") for n in range(count))
            times = []
            for _ in range(3):
                started = time.perf_counter()
                assert len(queue.records()) == count
                times.append(time.perf_counter() - started)
            print(f"| {count:,} | {kind} | {min(times):.2f}-{max(times):.2f} s |", flush=True)
            app.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
