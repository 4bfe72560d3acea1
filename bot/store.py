"""Where jobs live between polls: the `JobStore` interface and its in-memory implementation.

The tracker claims due jobs, works on them, and saves them back; a claimed job is invisible
to other claims until it is saved or released, which is what lets a shared (Redis) store
split the work between several bot instances.
"""

from __future__ import annotations

import heapq
from abc import ABC, abstractmethod

from bot.jobs import Job


class JobStore(ABC):
    @abstractmethod
    async def add(self, job: Job) -> None:
        """Store a new active job, due at its `next_poll_at`."""

    @abstractmethod
    async def get(self, job_id: str) -> Job | None: ...

    @abstractmethod
    async def claim_due(self, now: float, limit: int) -> list[Job]:
        """Take up to `limit` active jobs due by `now`, earliest first."""

    @abstractmethod
    async def save(self, job: Job) -> None:
        """Write back a claimed job: active ones are due again at `next_poll_at`,
        finished ones leave the schedule."""

    @abstractmethod
    async def release(self, job: Job) -> None:
        """Hand back a claimed job unchanged, e.g. on shutdown."""

    @abstractmethod
    async def next_due_at(self) -> float | None:
        """When the earliest unclaimed active job is due; None when there is none."""

    @abstractmethod
    async def active_count(self) -> int: ...

    @abstractmethod
    async def close(self) -> None:
        """Free connections."""


class MemoryJobStore(JobStore):
    """Jobs in a dict with a heap of (due time, id); finished jobs are dropped at once.

    Heap entries are never removed in place: a stale entry (claimed or rescheduled job)
    is skipped when it surfaces, so every operation is O(log n).
    """

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._claimed: set[str] = set()
        self._heap: list[tuple[float, str]] = []

    async def add(self, job: Job) -> None:
        self._jobs[job.id] = job
        heapq.heappush(self._heap, (job.next_poll_at, job.id))

    async def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    async def claim_due(self, now: float, limit: int) -> list[Job]:
        claimed: list[Job] = []
        while self._heap and len(claimed) < limit:
            due, job_id = self._heap[0]
            job = self._live(due, job_id)
            if job is None:
                heapq.heappop(self._heap)
                continue
            if due > now:
                break
            heapq.heappop(self._heap)
            self._claimed.add(job_id)
            claimed.append(job)
        return claimed

    async def save(self, job: Job) -> None:
        self._claimed.discard(job.id)
        if job.active:
            await self.add(job)
        else:
            self._jobs.pop(job.id, None)

    async def release(self, job: Job) -> None:
        if job.id in self._claimed:
            self._claimed.discard(job.id)
            heapq.heappush(self._heap, (self._jobs[job.id].next_poll_at, job.id))

    async def next_due_at(self) -> float | None:
        while self._heap and self._live(*self._heap[0]) is None:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    async def active_count(self) -> int:
        return len(self._jobs)

    async def close(self) -> None:
        """Nothing to free: jobs in memory end with the process."""

    def _live(self, due: float, job_id: str) -> Job | None:
        """The job a heap entry points to, or None when the entry is stale."""
        job = self._jobs.get(job_id)
        if job is None or job_id in self._claimed or job.next_poll_at != due:
            return None
        return job
