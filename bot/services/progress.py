"""What the live draft of a private chat asks of the store (bot/telegram/drafts.py):
whether its job is still drawn, and how long such pictures usually take."""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable

from bot.core.errors import StoreUnavailable
from bot.core.jobs import Job
from bot.services.planner import PollPlanner
from bot.storage.base import JobStore


def job_active(store: JobStore) -> Callable[[str], Awaitable[bool]]:
    async def active(job_id: str) -> bool:
        try:
            job = await store.get(job_id)
        except StoreUnavailable:
            return True  # keep the draft: the job goes on without the store for a while
        return job is not None and job.active

    return active


def typical_duration(
    store: JobStore, planner: PollPlanner
) -> Callable[[Job], Awaitable[float | None]]:
    """The median of the learned finish times of the job's model and shape; None while
    none are known (or the store is away)."""

    async def estimate(job: Job) -> float | None:
        try:
            samples = await store.durations_get(planner.duration_key(job))
        except StoreUnavailable:
            return None
        return statistics.median(samples) if samples else None

    return estimate
