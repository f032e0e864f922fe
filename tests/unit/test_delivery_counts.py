"""Delivery counts: RabbitMQ's header read only when RabbitMQ set it; file counts safe for any task id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sendx_worker.worker.deliveries import FileDeliveryCounter, broker_delivery_count, delivery_key


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
