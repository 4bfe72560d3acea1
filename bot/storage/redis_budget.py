"""A `Budget` in Redis (one Lua script), shared by every instance of the bot.

Its own module so that a bot without Redis never imports the Redis client (~6 MB of RSS).
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.core.budget import Budget
from bot.core.errors import StoreUnavailable
from bot.storage.budget import MemoryBudget

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
