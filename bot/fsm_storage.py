"""aiogram FSM storage in Redis that degrades instead of failing while Redis is away.

aiogram reads the FSM state of every update; with a plain RedisStorage a Redis outage would
make the bot deaf. Reads fall back to "no state" during an outage; writes still fail loudly,
since dropping them silently would lose a user's input.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

_OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)


class TolerantRedisStorage(BaseStorage):
    def __init__(self, storage: RedisStorage) -> None:
        self._storage = storage

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._storage.set_state(key, state)

    async def get_state(self, key: StorageKey) -> str | None:
        try:
            return await self._storage.get_state(key)
        except _OUTAGE as exc:
            log.warning("FSM state unavailable (%s)", type(exc).__name__)
            return None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._storage.set_data(key, data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        try:
            return await self._storage.get_data(key)
        except _OUTAGE as exc:
            log.warning("FSM data unavailable (%s)", type(exc).__name__)
            return {}

    async def close(self) -> None:
        await self._storage.close()
