"""Real brokers for tests, each isolated: a RabbitMQ vhost, a Redis database, a folder."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672"
REDIS_URL = "redis://127.0.0.1:6379"
# Redis databases 10-15 are for tests; 0 is left to whatever else runs here.
REDIS_TEST_DB = 11


@dataclass(frozen=True)
class TestBroker:
    """A broker URL that only this test uses."""

    kind: str
    url: str


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def rabbitmq_vhost() -> Iterator[TestBroker]:
    vhost = f"sendx-test-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield TestBroker("rabbitmq", f"{RABBITMQ_URL}/{vhost}")
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@contextmanager
def redis_database() -> Iterator[TestBroker]:
    url = f"{REDIS_URL}/{REDIS_TEST_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield TestBroker("redis", url)
    finally:
        client.flushdb()
        client.close()


@contextmanager
def filesystem_folder(data_dir: Path) -> Iterator[TestBroker]:
    try:
        yield TestBroker("filesystem", "filesystem://")
    finally:
        shutil.rmtree(data_dir / "broker", ignore_errors=True)


@contextmanager
def test_broker(kind: str, data_dir: Path) -> Iterator[TestBroker]:
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
