"""A `Budget` and a `WaitingLine` in Redis (a Lua script each), shared by every instance.

Its own module so that a bot without Redis never imports the Redis client (~6 MB of RSS).
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.core.budget import Budget, WaitingLine
from bot.core.errors import StoreUnavailable
from bot.storage.budget import MemoryBudget, MemoryLine

# GCRA: `tat` is the theoretical arrival time of the next request, on Redis's own clock
# (instances' clocks may differ). ARGV: interval (ms), burst tolerance (ms), "take" or
# "peek"; returns 0 when a token is free (taken unless peeking), else the ms to wait.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return tostring(allow_at - now) end
if ARGV[3] == 'take' then
  redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil(tolerance + interval) + 1000)
end
return '0'
"""


# The line: a sorted set of job ids by the time (Redis's clock) they joined. A job claimed
# again by another instance after a crash keeps its place (NX); places of jobs that never
# left (their instance died and nobody took them over) go after ARGV[2] seconds.
_JOIN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], 'NX', now, ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
return redis.call('ZRANK', KEYS[1], ARGV[1]) + 1
"""
# Any Redis error (a lost connection, OOM, READONLY, …): the line is counted locally.
_ERRORS = (RedisError, OSError)


class RedisLine(WaitingLine):
    """One line for all instances; while Redis is away, each instance counts its own."""

    def __init__(self, redis: Redis, key: str, stale_after: float) -> None:
        self._redis = redis
        self._key = key
        self._stale_after = stale_after
        self._join = redis.register_script(_JOIN)
        self._local = MemoryLine()

    async def join(self, job_id: str) -> int:
        try:
            return int(await self._join(keys=[self._key], args=[job_id, self._stale_after]))
        except _ERRORS:
            return await self._local.join(job_id)

    async def leave(self, job_id: str) -> None:
        await self._local.leave(job_id)
        # Unreachable: its place goes stale, counted at most `stale_after` longer.
        with suppress(*_ERRORS):
            await self._redis.zrem(self._key, job_id)


class RedisBudget(Budget):
    """Shared by all instances. While Redis is away each instance keeps the whole rate on
    its own (a local bucket), rather than stop or run unlimited."""

    def __init__(self, redis: Redis, key: str, per_second: float, burst: int = 1) -> None:
        self._local = MemoryBudget(per_second, burst)
        self._key = key
        self._interval_ms = 1000 / per_second
        self._tolerance_ms = self._interval_ms * (burst - 1)
        self._script = redis.register_script(_GCRA)

    async def _wait(self, mode: str) -> float:
        try:
            wait_ms = await self._script(
                keys=[self._key], args=[self._interval_ms, self._tolerance_ms, mode]
            )
        except (RedisError, OSError) as exc:  # OOM, READONLY, … too: keep the local bucket
            raise StoreUnavailable(type(exc).__name__) from None
        return float(wait_ms) / 1000

    async def acquire(self) -> None:
        try:
            # The bucket is shared with other processes: ask again after the wait it named.
            while (wait := await self._wait("take")) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)
        except StoreUnavailable:
            await self._local.acquire()

    async def available(self) -> bool:
        try:
            return await self._wait("peek") == 0
        except StoreUnavailable:
            return await self._local.available()
