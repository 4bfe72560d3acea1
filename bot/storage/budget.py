"""A `Budget` and a `WaitingLine` in one process's memory."""

from __future__ import annotations

from aiolimiter import AsyncLimiter

from bot.core.budget import Budget, WaitingLine


class MemoryBudget(Budget):
    def __init__(self, per_second: float, burst: int = 1) -> None:
        self._limiter = AsyncLimiter(burst, burst / per_second)

    async def acquire(self) -> None:
        await self._limiter.acquire()

    async def available(self) -> bool:
        return self._limiter.has_capacity()


class MemoryLine(WaitingLine):
    def __init__(self) -> None:
        self._waiting: list[str] = []

    async def join(self, job_id: str) -> int:
        if job_id not in self._waiting:
            self._waiting.append(job_id)
        return self._waiting.index(job_id) + 1

    async def leave(self, job_id: str) -> None:
        if job_id in self._waiting:
            self._waiting.remove(job_id)
