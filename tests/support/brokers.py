"""Real brokers for tests, each isolated: a RabbitMQ vhost, a Redis database, a folder."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import kombu.pools
import redis

from .waiting import wait_for

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672"
REDIS_URL = "redis://127.0.0.1:6379"
# Redis databases 10-15 are for tests; a test claims one with a lock key in db 0
# so that concurrent test runs (and the benchmarks, on db 12) never share one.
REDIS_TEST_DBS = (10, 11, 13, 14, 15)


@dataclass(frozen=True)
class IsolatedBroker:
    """A broker URL that only this test uses."""

    kind: str
    url: str


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def rabbitmq_vhost() -> Iterator[IsolatedBroker]:
    vhost = f"sendx-test-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield IsolatedBroker("rabbitmq", f"{RABBITMQ_URL}/{vhost}")
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@contextmanager
def redis_database() -> Iterator[IsolatedBroker]:
    locks = redis.Redis.from_url(f"{REDIS_URL}/0")
    token = uuid.uuid4().hex
    db = wait_for(lambda: _claim_redis_db(locks, token), timeout=120, what="a free Redis test database")
    url = f"{REDIS_URL}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield IsolatedBroker("redis", url)
    finally:
        # Celery shares connections through kombu's process-wide pools, keyed by
        # URL, and each remembers which queues it declared; after FLUSHDB that
        # memory is false and the next test's messages would have no binding.
        kombu.pools.reset()
        client.flushdb()
        client.close()
        if locks.get(f"sendx-test:db:{db}") == token.encode():
            locks.delete(f"sendx-test:db:{db}")
        locks.close()


def _claim_redis_db(locks: redis.Redis, token: str) -> int | None:
    for db in REDIS_TEST_DBS:
        if locks.set(f"sendx-test:db:{db}", token, nx=True, ex=900):
            return db
    return None


@contextmanager
def filesystem_folder(data_dir: Path) -> Iterator[IsolatedBroker]:
    try:
        yield IsolatedBroker("filesystem", "filesystem://localhost/")
    finally:
        shutil.rmtree(data_dir / "broker", ignore_errors=True)


@contextmanager
def isolated_broker(kind: str, data_dir: Path) -> Iterator[IsolatedBroker]:
    """The broker of ``kind`` ("rabbitmq", "redis", "filesystem"), isolated for one test."""
    if kind == "rabbitmq":
        with rabbitmq_vhost() as broker:
            yield broker
    elif kind == "redis":
        with redis_database() as broker:
            yield broker
    else:
        with filesystem_folder(data_dir) as broker:
            yield broker
