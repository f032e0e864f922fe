"""The transport: kombu's Redis transport taking messages with ``BLMOVE`` (see the package docstring)."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from typing import Any, ClassVar

from kombu.transport import redis as kombu_redis
from kombu.transport.virtual.base import Channel as VirtualChannel
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads

from ..worker.envelope import read_envelope
from .inflight import (
    DEFAULT_OWNER_TTL_S,
    INFLIGHT_REGISTRY,
    InFlight,
    inflight_list_key,
    owner_key,
    restore_list,
    restore_orphans,
)

__all__ = ["BLMOVE_MIN_SERVER", "Channel", "QoS", "Transport"]

logger = logging.getLogger(__name__)

BLMOVE_MIN_SERVER = (6, 2)


class QoS(kombu_redis.QoS):
    """kombu's Redis QoS, recording a moved message as unacknowledged in one transaction."""

    def append(self, message: Any, delivery_tag: str) -> None:
        taken: InFlight | None = self.channel._taken
        if taken is None or taken.payload is not message._raw:
            super().append(message, delivery_tag)
            return
        self.channel._taken = None
        delivery = message.delivery_info
        record = dumps([message._raw, delivery["exchange"], delivery["routing_key"]])
        with self.pipe_or_acquire() as pipe:
            # MULTI/EXEC (redis-py pipelines are transactions by default): the message
            # leaves the in-flight list exactly when it enters the unacked hash.
            pipe.zadd(self.unacked_index_key, {delivery_tag: time.time()}).hset(
                self.unacked_key, delivery_tag, record
            ).lrem(taken.list_key, 1, taken.item).execute()
        # The virtual QoS's own bookkeeping (the delivered map), as kombu's append does.
        super(kombu_redis.QoS, self).append(message, delivery_tag)

    def restore_by_tag(self, tag: str, client: Any = None, leftmost: bool = False) -> None:
        """Put an unacknowledged message back on its queue, or leave it unacknowledged.

        kombu's version removes the message from the unacked hash and then looks up
        where it goes; when the lookup failed it logged "Could not restore message"
        and the message was gone. That happened (seen in the Redis restart test) to a
        task that finished after its connection was lost and was requeued through the
        closed channel, whose exchange types kombu had dropped. Here the destination
        is found first; a message that has none stays unacknowledged, and the
        visibility sweep tries again later.
        """

        def restore_transaction(pipe: Any) -> None:
            raw = pipe.hget(self.unacked_key, tag)
            targets = self.channel.restore_targets(raw) if raw else []
            if raw and not targets:
                logger.error("message %s has no queue to go back to yet; it stays unacknowledged", tag)
                return
            pipe.multi()
            self._remove_from_indices(tag, pipe)
            for key, data in targets:
                (pipe.lpush if leftmost else pipe.rpush)(key, data)

        with self.channel.conn_or_acquire(client) as connected:
            connected.transaction(restore_transaction, self.unacked_key)

    def restore_visible(self, start: int = 0, num: int = 10, interval: int = 10) -> None:
        super().restore_visible(start=start, num=num, interval=interval)
        # Runs on kombu's restore timer (``unacked_restore_interval``), on one channel
        # per connection; the same throttle as kombu's sweep applies.
        if (self._vrestore_count - 1) % (interval or 1):
            return
        with self.channel.conn_or_acquire() as client:
            restore_orphans(client)


class Channel(kombu_redis.Channel):
    """A Redis channel that takes messages with ``BLMOVE`` onto an in-flight list it owns."""

    QoS = QoS
    exchange_types: Any  # kombu's, untyped (an annotation only: no new class attribute)
    #: Seconds an in-flight list outlives its owner's last sign of life.
    inflight_owner_ttl: float = DEFAULT_OWNER_TTL_S
    from_transport_options: ClassVar[tuple[str, ...]] = (
        *kombu_redis.Channel.from_transport_options,
        "inflight_owner_ttl",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.owner = uuid.uuid4().hex
        self._taken: InFlight | None = None
        # (source list, in-flight list) of the BLMOVE awaiting its reply, if any.
        self._blmove_pending: tuple[str, str] | None = None
        # In-flight list -> the source list its messages came from.
        self._registered_lists: dict[str, str] = {}
        self._owner_refreshed_at = float("-inf")
        self._blmove_supported: bool | None = None
        self._sync_client: Any = None
        self._no_ack_tags: set[str] = set()
        super().__init__(*args, **kwargs)

    def _create_client(self, asynchronous: bool = False) -> Any:
        """One client per pool, not kombu's new one per ack and per message (a tenth of a task's CPU).

        A redis-py client takes a connection from the pool per command: threads can share it.
        """
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        client = self._sync_client
        if client is None or client.connection_pool is not pool:
            client = self._sync_client = super()._create_client()
        return client

    # -- taking messages -------------------------------------------------------------

    def _brpop_start(self, timeout: float | None = None) -> None:
        source = self._single_source()
        if source is None:
            self._blmove_pending = None
            super()._brpop_start(timeout)
            return
        if timeout is None:
            timeout = self.brpop_timeout
        list_key = inflight_list_key(self.owner, source)
        self._keep_owner_alive(list_key, source)
        self._in_poll = self.client.connection
        self._brpop_sent_at = time.monotonic()
        self._blmove_pending = (source, list_key)
        self.client.connection.send_command("BLMOVE", source, list_key, "RIGHT", "LEFT", timeout or 0)

    def _brpop_read(self, **options: Any) -> bool:
        if self._blmove_pending is None:
            result: bool = super()._brpop_read(**options)
            return result
        (source, list_key), self._blmove_pending = self._blmove_pending, None
        try:
            try:
                item = self.client.parse_response(self.client.connection, "BLMOVE", **options)
            except self.connection_errors:
                # As kombu does: a broken connection is reconnected on the next poll. If
                # the server moved a message before the cut, the list's owner key expires
                # and another consumer moves it back.
                self.client.connection.disconnect()
                raise
            if not item:
                raise kombu_redis.Empty()
            queue = source.rsplit(self.sep, 1)[0]
            # An item kombu cannot read arrives wrapped, and is dead-lettered by the consumer.
            payload = read_envelope(item, queue)
            self._taken = InFlight(list_key, source, item, payload)
            self._queue_cycle.rotate(queue)
            delivered = False
            try:
                self.connection._deliver(payload, queue)
                delivered = True
            finally:
                if self._taken is not None:
                    self._taken = None
                    if delivered and self._consumed_without_ack(queue):
                        # A no_ack consumer (remote-control replies) took it: it is gone.
                        self._forget_taken(list_key, item)
                    else:
                        # Not recorded as unacknowledged (no consumer took it, or delivery
                        # failed before the QoS saw it): put it back where it came from.
                        self._put_back(list_key, source, item)
            return True
        finally:
            self._in_poll = None
            self._flush_brpop_reauth()

    def _get(self, queue: str) -> Any:
        """``basic_get``: the same move onto the in-flight list, without blocking."""
        if not self._blmove_available():
            return super()._get(queue)
        with self.conn_or_acquire() as client:
            for priority in self.priority_steps:
                source = self._q_for_pri(queue, priority)
                list_key = inflight_list_key(self.owner, source)
                self._keep_owner_alive(list_key, source)
                item = client.lmove(source, list_key, "RIGHT", "LEFT")
                if item:
                    self._maybe_update_queues_expire(client, queue)
                    payload = read_envelope(item, queue)
                    self._taken = InFlight(list_key, source, item, payload)
                    return payload
            self._maybe_update_queues_expire(client, queue)
        raise kombu_redis.Empty()

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        try:
            return super().basic_get(queue, no_ack=no_ack, **kwargs)
        finally:
            taken, self._taken = self._taken, None
            if taken is not None:
                # no_ack: the caller accepted the message as delivered; let it go.
                self._forget_taken(taken.list_key, taken.item)

    def restore_targets(self, raw: bytes) -> list[tuple[str, str]]:
        """The (list, message) pairs that put the unacknowledged record ``raw`` back."""
        payload, exchange, routing_key = loads(bytes_to_str(raw))
        with contextlib.suppress(KeyError, TypeError):
            payload["headers"]["redelivered"] = True
            payload["properties"]["delivery_info"]["redelivered"] = True
        if self.exchange_types is None:
            # kombu drops them when the channel closes; a message is still requeued
            # through a closed channel when its task ends after the connection is lost.
            classes: dict[str, Any] = vars(VirtualChannel)["exchange_types"]
            self.exchange_types = {kind: cls(self) for kind, cls in classes.items()}
        priority = self._get_message_priority(payload, reverse=False)
        data = dumps(payload)
        return [(self._q_for_pri(queue, priority), data) for queue in self._lookup(exchange, routing_key)]

    # -- ownership -----------------------------------------------------------------

    def _single_source(self) -> str | None:
        """The one list this channel consumes, when ``BLMOVE`` can serve it."""
        queues = self._queue_cycle.consume(len(self.active_queues))
        keys: list[str] = [self._q_for_pri(queue, priority) for priority in self.priority_steps for queue in queues]
        if len(keys) != 1 or not self._blmove_available():
            return None
        return keys[0]

    def _blmove_available(self) -> bool:
        if self._blmove_supported is None:
            self._blmove_supported = not self.global_keyprefix and _server_version(self.client) >= BLMOVE_MIN_SERVER
            if not self._blmove_supported:
                logger.warning(
                    "Redis cannot take messages atomically here (needs Redis >= 6.2 and no "
                    "global_keyprefix): a worker killed while taking a message can lose it"
                )
        return self._blmove_supported

    @property
    def owner_ttl_s(self) -> float:
        """The owner key's time to live: long enough to outlast a blocked ``BLMOVE`` twice over."""
        return max(float(self.inflight_owner_ttl), 3 * (float(self.brpop_timeout or 1) + 1))

    def _keep_owner_alive(self, list_key: str, source: str) -> None:
        """Refresh the owner key well before it expires, and register the list."""
        now = time.monotonic()
        fresh = now - self._owner_refreshed_at < self.owner_ttl_s / 3
        if fresh and list_key in self._registered_lists:
            return
        with self.conn_or_acquire() as client:
            # The registry entry is written with every refresh: a sweep that found this
            # owner's key expired (a long pause) and its list empty has forgotten it.
            client.pipeline().set(owner_key(self.owner), b"1", px=round(self.owner_ttl_s * 1000)).hset(
                INFLIGHT_REGISTRY, list_key, source
            ).execute()
        self._owner_refreshed_at = now
        self._registered_lists[list_key] = source

    def basic_consume(self, queue: str, no_ack: bool, callback: Any, consumer_tag: str, **kwargs: Any) -> Any:
        # kombu's virtual channels keep no record of which consumers take without acks.
        if no_ack:
            self._no_ack_tags.add(consumer_tag)
        return super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)

    def basic_cancel(self, consumer_tag: str) -> Any:
        self._no_ack_tags.discard(consumer_tag)
        return super().basic_cancel(consumer_tag)

    def _consumed_without_ack(self, queue: str) -> bool:
        """True when ``queue``'s consumer takes messages with no_ack (nothing to acknowledge)."""
        return any(self._tag_to_queue.get(tag) == queue for tag in self._no_ack_tags)

    def _forget_taken(self, list_key: str, item: bytes) -> None:
        with self.conn_or_acquire() as client:
            client.lrem(list_key, 1, item)

    def _put_back(self, list_key: str, source: str, item: bytes) -> None:
        with self.conn_or_acquire() as client:
            client.pipeline().lrem(list_key, 1, item).rpush(source, item).execute()

    def close(self) -> None:
        if not self.closed and self._registered_lists:
            with contextlib.suppress(Exception):
                # The owner closing: whatever is still in flight goes back now rather
                # than after the owner key expires. A broker that is down leaves it to
                # that expiry.
                if self._in_poll:
                    with contextlib.suppress(kombu_redis.Empty):
                        self._brpop_read()
                with self.conn_or_acquire() as client:
                    for list_key, source in self._registered_lists.items():
                        restore_list(client, list_key, source, force=True)
        super().close()


def _server_version(client: Any) -> tuple[int, ...]:
    version = str(client.info("server").get("redis_version", "0"))
    return tuple(int(part) if part.isdigit() else 0 for part in version.split(".")[:2])


class Transport(kombu_redis.Transport):
    """kombu's Redis transport using :class:`Channel`."""

    Channel = Channel
    driver_type = "redis"
    driver_name = "redis"
