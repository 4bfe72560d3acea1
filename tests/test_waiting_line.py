"""The line for the submit budget: a place counts every instance's waiters with Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.core.budget import WaitingLine
from bot.storage.budget import MemoryLine
from bot.storage.redis_budget import RedisLine
from tests.redis_server import free_port

KEY = "art:line:submit"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_places_in_order_kept_on_rejoin_freed_on_leave(kind: str, redis: Redis) -> None:
    line: WaitingLine = MemoryLine() if kind == "memory" else RedisLine(redis, KEY, 60)
    assert [await line.join("a"), await line.join("b"), await line.join("a")] == [1, 2, 1]
    await line.leave("a")
    assert await line.join("c") == 2
    assert await line.join("b") == 1


async def test_a_place_counts_every_instances_waiters(redis: Redis) -> None:
    first, second = RedisLine(redis, KEY, 60), RedisLine(redis, KEY, 60)
    assert await first.join("a") == 1
    assert await second.join("b") == 2
    assert await first.join("c") == 3
    await first.leave("a")
    # A job another instance took over (after a crash) keeps its place.
    assert await second.join("c") == 2
    assert await second.join("d") == 3


async def test_places_of_dead_instances_go_stale(redis: Redis) -> None:
    await redis.zadd(KEY, {"orphan": 1.0})  # joined long ago, never left
    assert await RedisLine(redis, KEY, 60).join("a") == 1
    assert await redis.zscore(KEY, "orphan") is None


async def test_without_redis_each_instance_counts_its_own() -> None:
    unreachable = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    line = RedisLine(unreachable, KEY, 60)
    assert [await line.join("a"), await line.join("b")] == [1, 2]
    await line.leave("a")
    assert await line.join("c") == 2
    await unreachable.aclose()
