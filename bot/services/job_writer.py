"""Writing a job's step: every step's result is saved through here, so a store outage is
waited out (not a step lost) in one place, and the /stats figures are recorded alike."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from bot.core.errors import StoreUnavailable
from bot.core.jobs import Job
from bot.core.limits import day_of
from bot.core.schedule import PollSchedule
from bot.storage.base import JobStore, LeaseLost
from bot.telegram.delivery import Delivery

log = logging.getLogger(__name__)

STORE_RETRY_MAX = 5.0


def model_event(model: str, event: str) -> str:
    """The daily counter of `event` for one model (/stats per model)."""
    return f"model:{model}:{event}"


@dataclass(frozen=True, slots=True, kw_only=True)
class JobWriter:
    store: JobStore
    delivery: Delivery
    schedule: PollSchedule
    clock: Callable[[], float]
    stopping: Callable[[], bool]

    async def save(self, job: Job) -> int | None:
        """Write the step's result; wait out a store outage rather than lose it. Returns
        a status message recorded meanwhile that `job` does not carry. A job whose group
        became a supergroup is saved under the new chat id."""
        chat_id = self.delivery.chat_of(job.chat_id)
        if chat_id != job.chat_id:
            job = job.but(chat_id=chat_id)
        delay = 0.1
        while True:
            try:
                return await self.store.save(job)
            except LeaseLost:
                log.warning("job %s: lease lost, another instance has it", job.id)
                return None
            except StoreUnavailable:
                if self.stopping():
                    log.error("job %s: store unavailable at shutdown, step not saved", job.id)
                    return None
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, STORE_RETRY_MAX)

    async def record(self, event: str, lag: float | None = None, *, model: str) -> None:
        """Daily figures for /stats, in total and per model; losing one to a store outage
        is harmless."""
        day = day_of(self.clock())
        with suppress(StoreUnavailable):
            await self.store.record(day, event, lag)
            await self.store.record(day, model_event(model, event))

    def later(self) -> float:
        """When a step that cannot go on now is tried again."""
        return self.clock() + self.schedule.max_interval
