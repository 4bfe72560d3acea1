"""Where jobs live between polls: the `JobStore` interface and its in-memory implementation.

The tracker claims due jobs, works on them, and saves them back; a claimed job is invisible
to other claims until it is saved, released or its lease runs out, which is what lets a
shared (Redis) store split the work between several bot instances.
"""

from __future__ import annotations

import heapq
from abc import ABC, abstractmethod
from collections.abc import Iterable

from bot.jobs import Job


class StoreUnavailable(Exception):
    """The store cannot be reached right now; the same call may work later."""


class LeaseLost(Exception):
    """Another instance took this job over (our lease expired); our result is not saved."""


class JobStore(ABC):
    lease_seconds: float

    @abstractmethod
    async def add(self, job: Job) -> None:
        """Store a new active job, due at its `next_poll_at`."""

    @abstractmethod
    async def get(self, job_id: str) -> Job | None: ...

    @abstractmethod
    async def claim_due(self, now: float, limit: int) -> list[Job]:
        """Take up to `limit` active jobs due by `now`, earliest first.

        A claim is a lease of `lease_seconds`: unless saved, released or renewed by then,
        the job is due again, so the work of an instance that died is picked up."""

    @abstractmethod
    async def save(self, job: Job) -> None:
        """Write back a claimed job: active ones are due again at `next_poll_at`,
        finished ones leave the schedule."""

    @abstractmethod
    async def release(self, job: Job) -> None:
        """Hand back a claimed job unchanged, e.g. on shutdown."""

    @abstractmethod
    async def renew(self, job_ids: Iterable[str], now: float) -> None:
        """Keep the claims on jobs still being worked on."""

    @abstractmethod
    async def next_due_at(self) -> float | None:
        """When the earliest unclaimed active job is due; None when there is none."""

    @abstractmethod
    async def active_count(self) -> int: ...

    @abstractmethod
    async def ping(self) -> bool:
        """Whether the store is reachable, for health checks."""

    @abstractmethod
    async def close(self) -> None:
        """Free connections."""


class MemoryJobStore(JobStore):
    """The same model as the Redis store, in one process: `_due` maps each active job to the
    time it is due (its next poll, or the end of its claim), and a heap orders those times.

    Heap entries are never removed in place: an entry whose time no longer matches `_due`
    is skipped when it surfaces, so every operation is O(log n).
    """

    def __init__(self, *, lease_seconds: float = 60.0) -> None:
        self.lease_seconds = lease_seconds
        self._jobs: dict[str, Job] = {}
        self._due: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    async def add(self, job: Job) -> None:
        self._jobs[job.id] = job
        self._schedule(job.id, job.next_poll_at)

    async def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    async def claim_due(self, now: float, limit: int) -> list[Job]:
        claimed: list[Job] = []
        while self._heap and len(claimed) < limit:
            due, job_id = self._heap[0]
            if self._due.get(job_id) != due:
                heapq.heappop(self._heap)
                continue
            if due > now:
                break
            heapq.heappop(self._heap)
            self._schedule(job_id, now + self.lease_seconds)
            claimed.append(self._jobs[job_id])
        return claimed

    async def save(self, job: Job) -> None:
        if job.active:
            await self.add(job)
        else:
            self._jobs.pop(job.id, None)
            self._due.pop(job.id, None)

    async def release(self, job: Job) -> None:
        if job.id in self._due:
            self._schedule(job.id, self._jobs[job.id].next_poll_at)

    async def renew(self, job_ids: Iterable[str], now: float) -> None:
        for job_id in job_ids:
            if job_id in self._due:
                self._schedule(job_id, now + self.lease_seconds)

    async def next_due_at(self) -> float | None:
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    async def active_count(self) -> int:
        return len(self._due)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        """Nothing to free: jobs in memory end with the process."""

    def _schedule(self, job_id: str, due: float) -> None:
        self._due[job_id] = due
        heapq.heappush(self._heap, (due, job_id))
