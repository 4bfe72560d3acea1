"""A `Budget` in one process's memory."""

from __future__ import annotations

from aiolimiter import AsyncLimiter

from bot.core.budget import Budget


class MemoryBudget(Budget):
    def __init__(self, per_second: float, burst: int = 1) -> None:
        self._limiter = AsyncLimiter(burst, burst / per_second)

    async def acquire(self) -> None:
        await self._limiter.acquire()

    async def available(self) -> bool:
        return self._limiter.has_capacity()
