"""The state store in Redis: a hash per contact, plain keys for values; scripts for atomicity.

Every operation is one round trip: the contact operations and the conditional ones
are Lua scripts (run by ``EVALSHA``), which Redis runs with nothing in between. Keys
live under ``sendx:c:`` (contacts) and ``sendx:v:`` (values) in the URL's database:
by default the broker's own Redis, whose keys they cannot collide with. Redis
expires them itself.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.exceptions import RedisError

from ..errors import StoreUnavailable
from ..proxies import redact_url
from .contact import ContactState, Pending
from .entry import LEASE_OWNER, LEASE_UNTIL, finished_entry
from .redis_calls import IdleConnections, ScriptCaller

__all__ = ["RedisStore"]

CONTACT_PREFIX = "sendx:c:"
VALUE_PREFIX = "sendx:v:"

# KEYS[1] the contact; ARGV: owner, lease ms, keep ms, pending field, pending mark.
# Redis's own clock decides leases, so workers' clocks need not agree.
_BEGIN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local holder = redis.call('HMGET', KEYS[1], 'L', 'X')
if holder[1] and holder[1] ~= ARGV[1] and tonumber(holder[2] or 0) > now then
  return false
end
redis.call('HSET', KEYS[1], 'L', ARGV[1], 'X', now + tonumber(ARGV[2]))
redis.call('HSETNX', KEYS[1], ARGV[4], ARGV[5])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return redis.call('HGETALL', KEYS[1])
"""

# KEYS[1] the contact; ARGV: owner, keep ms, then field, value, field, value...
_FINISH = """
if redis.call('HGET', KEYS[1], 'L') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
local i = 3
while i <= #ARGV do
  local last = math.min(i + 199, #ARGV)
  redis.call('HSET', KEYS[1], unpack(ARGV, i, last))
  i = last + 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS[1]; ARGV: "1" if a value is expected (then ARGV[2] is it), new value, ttl ms ("" for none).
_COMPARE_AND_SET = """
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[3])
end
return 1
"""

_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisStore:
    """A :class:`~sendx_worker.state.base.StateStore` on one Redis database."""

    def __init__(self, url: str, *, client: Any = None) -> None:
        self.display_url = redact_url(url)
        # Bounded waits: a Redis that hangs must turn into StoreUnavailable (the message
        # waits and comes back), not into 64 threads blocked for ever.
        self._redis = client or redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=3, health_check_interval=30
        )
        # Begin and finish run for every delivered task: one round trip each, past
        # redis-py's command machinery (:mod:`.redis_calls`).
        self._connections = IdleConnections(self._redis)
        self._begin = ScriptCaller(self._connections, _BEGIN)
        self._finish = ScriptCaller(self._connections, _FINISH)
        self._cas = self._redis.register_script(_COMPARE_AND_SET)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._release = self._redis.register_script(_RELEASE)

    # --- contacts -------------------------------------------------------------------

    def begin(
        self, key: str, owner: str, *, lease_s: float, keep_s: float, event: str, mark: Pending
    ) -> ContactState | None:
        args = [owner, _ms(lease_s), _ms(keep_s), f"p:{event}", mark.text()]
        found = self._call(self._begin, [CONTACT_PREFIX + key], args)
        if not found:
            return None
        return _state_of_pairs(found)

    def finish(self, key: str, owner: str, state: ContactState, *, keep_s: float) -> bool:
        args: list[Any] = [owner, _ms(keep_s)]
        for name, value in finished_entry(state).items():
            args += [name, value]
        return bool(self._call(self._finish, [CONTACT_PREFIX + key], args))

    def peek(self, key: str) -> ContactState | None:
        found = self._run(lambda: self._redis.hgetall(CONTACT_PREFIX + key))
        if not found:
            return None
        return _state_of_pairs([item for pair in found.items() for item in pair])

    # --- values -----------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        value = self._run(lambda: self._redis.get(VALUE_PREFIX + key))
        return None if value is None else value.decode()

    def compare_and_set(self, key: str, expected: str | None, new: str, *, ttl_s: float | None = None) -> bool:
        args = ["0" if expected is None else "1", expected or "", new, "" if ttl_s is None else _ms(ttl_s)]
        return bool(self._call(self._cas, [VALUE_PREFIX + key], args))

    def incr(self, key: str, by: int = 1, *, ttl_s: float | None = None) -> int:
        def run() -> int:
            pipe = self._redis.pipeline()
            pipe.incrby(VALUE_PREFIX + key, by)
            if ttl_s is not None:
                pipe.pexpire(VALUE_PREFIX + key, _ms(ttl_s))
            return int(pipe.execute()[0])

        total: int = self._run(run)
        return total

    def acquire(self, key: str, owner: str, *, ttl_s: float) -> bool:
        return bool(self._call(self._acquire, [VALUE_PREFIX + key], [owner, _ms(ttl_s)]))

    def release(self, key: str, owner: str) -> bool:
        return bool(self._call(self._release, [VALUE_PREFIX + key], [owner]))

    def delete(self, key: str) -> None:
        self._run(lambda: self._redis.delete(VALUE_PREFIX + key))

    def purge_expired(self) -> int:
        return 0  # Redis expires keys itself

    def ping(self) -> None:
        self._run(self._redis.ping)

    def close(self) -> None:
        self._connections.close()
        self._redis.close()

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        return self._run(lambda: script(keys=keys, args=args))

    def _run(self, operation: Any) -> Any:
        try:
            return operation()
        except RedisError as exc:
            raise StoreUnavailable(f"state store {self.display_url}: {type(exc).__name__}: {exc}") from exc


def _state_of_pairs(flat: list[Any]) -> ContactState:
    entry: dict[str, str] = {}
    for index in range(0, len(flat) - 1, 2):
        name = flat[index].decode() if isinstance(flat[index], bytes) else str(flat[index])
        if name in (LEASE_OWNER, LEASE_UNTIL):
            continue
        value = flat[index + 1]
        entry[name] = value.decode() if isinstance(value, bytes) else str(value)
    return ContactState.from_flat(entry)
