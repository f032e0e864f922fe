"""Delivery counts: RabbitMQ's header read only when RabbitMQ set it; file counts safe for any task id; Redis counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from sendx_worker.worker.deliveries import (
    COUNT_TTL_S,
    FileDeliveryCounter,
    RedisDeliveryCounter,
    broker_delivery_count,
    delivery_key,
)
from tests.support.brokers import redis_database


@pytest.mark.parametrize("header", [None, 0, 1, 99, "99", -5, [3], True, 1.5])
def test_a_first_delivery_is_the_first_whatever_its_header_says(header: Any) -> None:
    assert broker_delivery_count(False, header) == 1


@pytest.mark.parametrize(("header", "count"), [(1, 2), (4, 5), (None, 2), ("many", 2), (-5, 2), (True, 2)])
def test_a_redelivery_is_counted_from_rabbitmqs_header_and_is_at_least_the_second(header: Any, count: int) -> None:
    assert broker_delivery_count(True, header) == count


@pytest.mark.parametrize("task_id", ["../../escape", "/etc/passwd", "a" * 5000, "\ud800", "x\x00y", "."])
def test_any_task_id_is_counted_inside_the_folder(tmp_path: Path, task_id: str) -> None:
    folder = tmp_path / "deliveries"
    counter = FileDeliveryCounter(folder)
    key = delivery_key(task_id, 0)
    assert (counter.started(key), counter.started(key)) == (1, 2)
    assert [path.parent for path in tmp_path.rglob("*") if path.is_file()] == [folder]
    counter.finished(key)
    assert list(folder.iterdir()) == []


def test_a_count_file_that_is_not_a_number_counts_from_zero(tmp_path: Path) -> None:
    counter = FileDeliveryCounter(tmp_path)
    key = delivery_key("id", 0)
    counter.started(key)
    (path,) = tmp_path.iterdir()
    path.write_bytes(b"garbage")
    assert counter.started(key) == 1


@settings(max_examples=25, deadline=None)
@given(task_id=st.text(min_size=1, max_size=80), starts=st.integers(1, 4))
def test_redis_counts_each_start_keeps_the_count_a_week_and_forgets_it_when_finished(task_id: str, starts: int) -> None:
    with redis_database() as broker:
        client = redis.Redis.from_url(broker.url)
        counter = RedisDeliveryCounter(client)
        key = delivery_key(task_id.encode("utf-8", "surrogatepass").decode("utf-8", "replace"), 2)
        other = delivery_key("someone-else", 0)
        assert counter.started(other) == 1
        assert [counter.started(key) for _ in range(starts)] == list(range(1, starts + 1))
        assert 0 < client.ttl(f"sendx:deliveries:{key}") <= COUNT_TTL_S
        counter.finished(key)
        assert client.exists(f"sendx:deliveries:{key}") == 0
        assert counter.started(key) == 1  # a finished count starts again
        assert counter.started(other) == 2  # other messages' counts are their own
        client.close()
