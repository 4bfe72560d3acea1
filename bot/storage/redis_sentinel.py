"""The client of a master behind Redis Sentinel. Its own module so that a bot without Redis
never imports the Redis client."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel


class SentinelMaster(Redis):
    """A client of the master the sentinels name; closing it closes the sentinels' too."""

    sentinels: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if self.sentinels is not None:
            await self.sentinels.aclose()


def master_client(
    addresses: list[tuple[str, int]], name: str, **connection: object
) -> SentinelMaster:
    """`connection`: the master's connection options (timeouts, credentials, database); the
    sentinels get the same timeouts."""
    sentinel = Sentinel(addresses, **connection)  # type: ignore[no-untyped-call]
    client = sentinel.master_for(name, redis_class=SentinelMaster)
    assert isinstance(client, SentinelMaster)
    client.sentinels = sentinel
    return client
