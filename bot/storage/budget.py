"""A `Budget` and a `WaitingLine` in one process's memory."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.core.budget import Budget, WaitingLine


class MemoryBudget(Budget):
    """GCRA, as the shared bucket in Redis: each token is booked at its theoretical time
    (`tat`) and its taker sleeps until then. A waiter woken late by a busy event loop does
    not push the next token later, so a queue is served at the full rate; a bucket that
    counted from each actual take lost that lateness on every token (polls at 44 of 50 a
    second in a burst, bench.lag)."""

    def __init__(
        self,
        per_second: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = 1.0 / per_second
        self._tolerance = self._interval * (burst - 1)
        self._clock = clock
        self._sleep = sleep
        self._tat = -float("inf")  # when the next token is due, burst aside

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    async def acquire(self) -> None:
        now = self._now()
        tat = max(self._tat, now)
        self._tat = tat + self._interval  # booked: the next taker queues behind this one
        wait = tat - self._tolerance - now
        if wait <= 0:
            return
        try:
            await self._sleep(wait)
        except asyncio.CancelledError:
            if self._tat == tat + self._interval:  # the last booked: give the token back
                self._tat = tat
            raise

    async def available(self) -> bool:
        return max(self._tat, self._now()) - self._tolerance <= self._now()


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
