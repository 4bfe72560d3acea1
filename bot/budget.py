"""Rate limits that keep the bot inside the Yandex quotas, whatever the load.

Each budget is a GCRA token bucket: in memory for one process, or in Redis
(bot/redis_budget.py) so that several instances share one budget. Over budget a caller
waits; nothing is refused.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from aiolimiter import AsyncLimiter


class Budget(ABC):
    @abstractmethod
    async def acquire(self) -> None:
        """Wait for a token."""

    @abstractmethod
    async def available(self) -> bool:
        """Whether a token is free right now (for showing a queue), without taking it."""


class MemoryBudget(Budget):
    def __init__(self, per_second: float, burst: int = 1) -> None:
        self._limiter = AsyncLimiter(burst, burst / per_second)

    async def acquire(self) -> None:
        await self._limiter.acquire()

    async def available(self) -> bool:
        return self._limiter.has_capacity()
