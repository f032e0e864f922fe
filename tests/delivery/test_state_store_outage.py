"""When the state store cannot be reached, messages wait: never sent out of order, never lost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.delivery.conftest import Stack
from tests.support.brokers import isolated_broker
from tests.support.private_redis import PrivateRedis
from tests.support.waiting import wait_for


@pytest.fixture
def store_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "store-redis").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.timeout(300)
def test_messages_wait_for_an_unreachable_store_and_are_delivered_when_it_is_back(
    emulator: object, tmp_path: Path, store_redis: PrivateRedis
) -> None:
    with isolated_broker("rabbitmq", tmp_path) as broker:
        stack = Stack(broker, emulator, tmp_path)  # type: ignore[arg-type]
        stack.env["SENDX_STATE_URL"] = store_redis.url
        try:
            worker = stack.start_worker()
            stack.identify({"email": "before@example.com"})
            stack.wait_contact("before@example.com")

            store_redis.stop()
            emails = [f"waiting{i}@example.com" for i in range(5)]
            for email in emails:
                stack.identify({"email": email, "firstName": "Waited"})
            wait_for(lambda: worker.saw("state store unreachable"), timeout=60, what="the outage logged")
            assert all(not stack.api_requests(email) for email in emails)

            back_at = time.time()
            store_redis.start()
            for email in emails:
                stack.wait_contact(email, timeout=120, firstName="Waited")
            wait_for(lambda: worker.saw("state store reachable again"), timeout=60, what="the recovery logged")
            # Nothing went out while the store was down, and the outage was said once.
            for email in emails:
                assert all(request["timestamp"] >= back_at for request in stack.api_requests(email))
            assert worker.count("state store unreachable") == 1
            assert stack.dead_letters() == []
        finally:
            stack.close()
