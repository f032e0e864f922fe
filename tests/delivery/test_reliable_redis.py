"""The Redis transport never loses the message a consumer is taking (real Redis)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kombu import Connection, Exchange, Queue
from kombu.transport import redis as kombu_redis

from sendx_worker import reliable_redis
from sendx_worker.reliable_redis import (
    INFLIGHT_LIST_PREFIX,
    INFLIGHT_REGISTRY,
    Transport,
    inflight_list_key,
    owner_key,
    restore_orphans,
)
from sendx_worker.worker.envelope import UNREADABLE_CONTENT_TYPE, UNREADABLE_HEADER
from tests.support.brokers import IsolatedBroker, redis_database
from tests.support.take_and_die import EXIT_TOOK_ONE
from tests.support.waiting import wait_for

QUEUE = "work"
FAST = {
    "priority_steps": [0],
    "inflight_owner_ttl": 1.0,
    "unacked_restore_interval": 0.2,
    "unacked_restore_throttle": 1,
}


@pytest.fixture
def broker() -> Iterator[IsolatedBroker]:
    with redis_database() as isolated:
        yield isolated


@pytest.fixture
def store(broker: IsolatedBroker) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(broker.url)
    yield client
    client.close()


def work_queue() -> Queue:
    return Queue(QUEUE, Exchange(QUEUE, type="direct"), routing_key=QUEUE)


def connect(url: str, transport: Any = Transport, **options: Any) -> Connection:
    return Connection(url, transport=transport, transport_options={**FAST, **options})


def publish(url: str, *bodies: dict[str, int]) -> None:
    with connect(url) as connection, connection.Producer() as producer:
        for body in bodies:
            producer.publish(body, exchange=work_queue().exchange, routing_key=QUEUE, declare=[work_queue()])


def inflight_items(store: redis.Redis) -> list[bytes]:
    return [item for key in store.scan_iter(f"{INFLIGHT_LIST_PREFIX}*") for item in store.lrange(key, 0, -1)]


def taken_by_a_consumer_that_dies(broker: IsolatedBroker, store: redis.Redis, transport: str) -> None:
    """One message, taken by a consumer on ``transport`` that dies before recording it."""
    publish(broker.url, {"n": 1})
    died = subprocess.run(
        [sys.executable, "-m", "tests.support.take_and_die", broker.url, QUEUE, transport],
        capture_output=True,
        timeout=60,
    )
    assert died.returncode == EXIT_TOOK_ONE, died.stderr.decode()
    # Off the queue, and not recorded as unacknowledged.
    assert store.llen(QUEUE) == 0
    assert store.hlen("unacked") == 0


def consume(connection: Connection, wanted: int, *, ack: bool = True) -> list[Any]:
    received: list[Any] = []

    def on_message(body: Any, message: Any) -> None:
        received.append(body)
        if ack:
            message.ack()

    def drained() -> bool:
        _drain_once(connection)
        return len(received) >= wanted

    with connection.Consumer(work_queue(), callbacks=[on_message]):
        wait_for(drained, timeout=30, interval=0, what=f"{wanted} message(s)")
    return received


def test_kombus_own_transport_loses_a_message_taken_by_a_consumer_that_dies(
    broker: IsolatedBroker, store: redis.Redis
) -> None:
    # The window this module closes, shown on kombu's transport: if this starts to
    # fail, kombu has closed it and reliable_redis may no longer be needed.
    taken_by_a_consumer_that_dies(broker, store, "kombu")
    assert inflight_items(store) == []  # so it is nowhere: lost


def test_a_message_taken_by_a_consumer_that_dies_is_moved_back_and_delivered(
    broker: IsolatedBroker, store: redis.Redis
) -> None:
    taken_by_a_consumer_that_dies(broker, store, "reliable")
    assert len(inflight_items(store)) == 1  # on the dead consumer's in-flight list
    with connect(broker.url) as connection:
        assert consume(connection, 1) == [{"n": 1}]
    assert inflight_items(store) == []
    assert store.hlen(INFLIGHT_REGISTRY) == 0


def test_a_delivered_message_is_on_the_unacked_hash_and_nowhere_else(
    broker: IsolatedBroker, store: redis.Redis
) -> None:
    publish(broker.url, {"n": 1}, {"n": 2})
    seen: list[tuple[int, int, int]] = []
    with connect(broker.url) as connection:

        def on_message(body: Any, message: Any) -> None:
            seen.append((store.llen(QUEUE), store.hlen("unacked"), len(inflight_items(store))))
            message.ack()

        with connection.Consumer(work_queue(), callbacks=[on_message]):
            wait_for(lambda: _drain_once(connection) or len(seen) == 2, timeout=30, interval=0, what="two messages")
    assert seen == [(1, 1, 0), (0, 1, 0)]
    assert store.hlen("unacked") == 0


def _drain_once(connection: Connection) -> bool:
    with contextlib.suppress(TimeoutError):
        connection.drain_events(timeout=0.5)
    return False


def test_an_unacknowledged_message_goes_back_when_its_consumer_closes(
    broker: IsolatedBroker, store: redis.Redis
) -> None:
    publish(broker.url, {"n": 1})
    with connect(broker.url) as connection:
        assert consume(connection, 1, ack=False) == [{"n": 1}]
    # kombu restores its unacknowledged messages at close; nothing stays in flight.
    assert store.llen(QUEUE) == 1
    assert inflight_items(store) == []


def test_the_in_flight_list_of_a_live_owner_is_left_alone(broker: IsolatedBroker, store: redis.Redis) -> None:
    list_key = inflight_list_key("alive", QUEUE)
    store.set(owner_key("alive"), b"1", ex=60)
    store.hset(INFLIGHT_REGISTRY, list_key, QUEUE)
    store.lpush(list_key, b'{"being": "handled"}')
    assert restore_orphans(store) == 0
    assert store.llen(list_key) == 1
    store.delete(owner_key("alive"))
    assert restore_orphans(store) == 1
    assert store.lrange(QUEUE, 0, -1) == [b'{"being": "handled"}']
    assert store.hlen(INFLIGHT_REGISTRY) == 0


@pytest.mark.parametrize("item", [b"\x80 not json", b"5", b"[]", b'"text"', b"null", b'{"body": "x"}'])
def test_an_item_that_is_not_a_message_arrives_wrapped_with_its_raw_bytes_and_consuming_goes_on(
    broker: IsolatedBroker, store: redis.Redis, item: bytes
) -> None:
    publish(broker.url, {"n": 1})
    store.rpush(QUEUE, item)  # taken first: kombu pops from the right
    messages: list[Any] = []

    def on_message(body: Any, message: Any) -> None:
        messages.append(message)
        message.ack()

    with connect(broker.url) as connection, connection.Consumer(work_queue(), callbacks=[on_message]):
        wait_for(lambda: _drain_once(connection) or len(messages) == 2, timeout=30, interval=0, what="both")
    wrapped, good = messages
    assert wrapped.content_type == UNREADABLE_CONTENT_TYPE
    assert wrapped.body == item
    assert wrapped.headers[UNREADABLE_HEADER].startswith(f"the item on queue {QUEUE!r} is ")
    assert good.decode() == {"n": 1}
    assert inflight_items(store) == []
    assert (store.llen(QUEUE), store.hlen("unacked")) == (0, 0)


def test_basic_get_records_the_message_as_unacknowledged(broker: IsolatedBroker, store: redis.Redis) -> None:
    publish(broker.url, {"n": 1})
    with connect(broker.url) as connection:
        message = connection.SimpleQueue(work_queue()).get(timeout=5)
        assert message.payload == {"n": 1}
        assert (store.llen(QUEUE), store.hlen("unacked"), inflight_items(store)) == (0, 1, [])
        message.ack()
    assert store.hlen("unacked") == 0


def test_several_queues_fall_back_to_kombus_brpop(broker: IsolatedBroker, store: redis.Redis) -> None:
    other = Queue("other", Exchange("other", type="direct"), routing_key="other")
    with connect(broker.url) as connection, connection.Producer() as producer:
        producer.publish({"q": "other"}, exchange=other.exchange, routing_key="other", declare=[other])
        producer.publish({"q": QUEUE}, exchange=work_queue().exchange, routing_key=QUEUE, declare=[work_queue()])
        received: list[Any] = []
        with connection.Consumer([work_queue(), other], callbacks=[lambda body, m: (received.append(body), m.ack())]):
            wait_for(lambda: _drain_once(connection) or len(received) == 2, timeout=30, interval=0, what="both")
    assert sorted(r["q"] for r in received) == ["other", QUEUE]
    assert inflight_items(store) == []


def test_kombu_transport_is_what_it_extends() -> None:
    # The class attributes Celery looks at to pick Redis-specific behaviour.
    assert Transport.driver_type == "redis"
    assert issubclass(reliable_redis.Channel, kombu_redis.Channel)


def requeued_after_its_channel_closed(url: str, transport: Any) -> None:
    """A message requeued by a task that ends after its connection was lost.

    Celery does this: the consumer's channel is closed on the lost connection; its
    restore at close fails while Redis is down (so the message stays unacknowledged
    in Redis) and a second close completes; then the pool thread running the task
    rejects the message with requeue, through the closed channel.
    """
    with connect(url, transport=transport) as connection:
        channel = connection.channel()
        message = channel.basic_get(QUEUE)
        assert message is not None

        def redis_is_down(*args: Any, **kwargs: Any) -> None:
            raise redis.ConnectionError("Redis is restarting")

        channel.qos.restore_unacked = redis_is_down
        with contextlib.suppress(redis.ConnectionError):
            channel.close()
        channel.close()
        message.reject(requeue=True)


def test_kombus_own_transport_loses_a_message_requeued_through_a_closed_channel(
    broker: IsolatedBroker, store: redis.Redis
) -> None:
    publish(broker.url, {"n": 1})
    requeued_after_its_channel_closed(broker.url, kombu_redis.Transport)
    assert (store.llen(QUEUE), store.hlen("unacked")) == (0, 0)  # lost


def test_a_message_requeued_through_a_closed_channel_goes_back_on_its_queue(
    broker: IsolatedBroker, store: redis.Redis
) -> None:
    publish(broker.url, {"n": 1})
    requeued_after_its_channel_closed(broker.url, Transport)
    assert (store.llen(QUEUE), store.hlen("unacked")) == (1, 0)
    with connect(broker.url) as connection:
        assert consume(connection, 1) == [{"n": 1}]


def test_a_message_with_nowhere_to_go_stays_unacknowledged(broker: IsolatedBroker, store: redis.Redis) -> None:
    publish(broker.url, {"n": 1})
    with connect(broker.url) as connection:
        channel = connection.channel()
        message = channel.basic_get(QUEUE)
        store.delete(f"_kombu.binding.{QUEUE}")  # its exchange no longer routes anywhere
        message.reject(requeue=True)
        assert (store.llen(QUEUE), store.hlen("unacked")) == (0, 1)
        channel.do_restore = False


def test_a_no_ack_consumer_takes_a_message_once(broker: IsolatedBroker, store: redis.Redis) -> None:
    # Remote-control replies (`sendx-worker check`, the console's worker list) are consumed
    # with no_ack: no unacknowledged record is ever made for them. Such a message must not
    # be put back on its queue after delivery (it came back for ever, and check hung).
    publish(broker.url, {"n": 1})
    received: list[Any] = []
    with connect(broker.url) as connection:
        with connection.Consumer(work_queue(), callbacks=[lambda body, message: received.append(body)], no_ack=True):
            wait_for(lambda: _drain_once(connection) or received, timeout=30, interval=0, what="the message")
            for _ in range(3):  # a few more polls: it must not come again
                _drain_once(connection)
        assert received == [{"n": 1}]
    assert store.llen(QUEUE) == 0
    assert inflight_items(store) == []
    assert store.hlen("unacked") == 0
