"""A broker restart in the middle of a run loses nothing (RabbitMQ and a durable Redis)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sendx_worker.emulator import Emulator
from tests.delivery.conftest import Stack
from tests.support.brokers import IsolatedBroker, rabbitmq_vhost
from tests.support.durable_redis import DurableRedis
from tests.support.waiting import wait_for

CONTACTS = 300


pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[DurableRedis]:
    server = DurableRedis(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


def restart_rabbitmq() -> None:
    # stop_app/start_app restarts the broker inside its node: every connection drops.
    subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, timeout=120)
    subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, timeout=120)
    subprocess.run(["rabbitmqctl", "-q", "await_startup"], check=True, timeout=120)


def run_through_a_restart(stack: Stack, restart: object) -> None:
    stack.emulator.set_faults(latency_ms=50)
    emails = [f"r{i}@example.com" for i in range(CONTACTS)]
    for email in emails:
        stack.identify({"email": email, "company": "Restart Inc"})
    stack.start_worker(concurrency=8)
    wait_for(lambda: stack.emulator.stats()["requests"] >= CONTACTS // 5, what="a fifth delivered")
    assert callable(restart)
    restart()

    def undelivered() -> list[str]:
        # Like a process supervisor would: a worker that died on the lost
        # connection (a kombu race in the threads pool, seen on Redis) is restarted.
        if stack.workers[-1].exited():
            stack.start_worker(concurrency=8)
        return [e for e in emails if not stack.emulator.contact(e)]

    # A message taken in the instant of the cut comes back when its in-flight list's
    # owner key expires (reliable_redis), well within the timeout.
    wait_for(lambda: not undelivered(), timeout=180, interval=0.5, what="every contact delivered after the restart")
    assert stack.dead_letters() == []


def test_a_rabbitmq_restart_mid_run_loses_nothing(emulator: Emulator, tmp_path: Path) -> None:
    with rabbitmq_vhost() as broker:
        stack = Stack(broker, emulator, tmp_path)
        try:
            run_through_a_restart(stack, restart_rabbitmq)
        finally:
            stack.close()


def test_a_redis_restart_mid_run_loses_nothing(emulator: Emulator, durable_redis: DurableRedis, tmp_path: Path) -> None:
    stack = Stack(IsolatedBroker("redis", durable_redis.url), emulator, tmp_path)
    try:
        run_through_a_restart(stack, durable_redis.restart)
    finally:
        stack.close()
