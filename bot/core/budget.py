"""Rate limits that keep the bot inside the Yandex quotas, whatever the load.

Each budget is a GCRA token bucket: in memory for one process (bot/storage/budget.py), or in
Redis (bot/storage/redis_budget.py) so that several instances share one budget. Over budget
a caller waits; nothing is refused.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class Budget(ABC):
    @abstractmethod
    async def acquire(self) -> None:
        """Wait for a token."""

    @abstractmethod
    async def available(self) -> bool:
        """Whether a token is free right now (for showing a queue), without taking it."""


class WaitingLine(ABC):
    """The requests waiting for the submit budget, in order, to show each its place: per
    process in memory, or in Redis so that the place counts every instance's waiters."""

    @abstractmethod
    async def join(self, job_id: str) -> int:
        """Stand in line (a job that stands there already keeps its place); its place, from 1."""

    @abstractmethod
    async def leave(self, job_id: str) -> None: ...
