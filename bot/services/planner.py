"""The tracker's poll timing: the learned schedule when there is history, else the growing
one; and the feedback that teaches it (how long each generation took)."""

from __future__ import annotations

from bot.core.jobs import Job
from bot.core.schedule import LearnedSchedule, PollSchedule
from bot.services.durations import DurationModel


class PollPlanner:
    def __init__(
        self,
        schedule: PollSchedule,
        durations: DurationModel,
        *,
        model_uri: str,
        learned: LearnedSchedule | None,
    ) -> None:
        self.schedule = schedule
        self._durations = durations
        self._model_uri = model_uri
        self._learned = learned

    def _key(self, job: Job) -> str:
        """Generation time depends on the model and the picture's shape."""
        return f"{self._model_uri}|{job.request.ratio}"

    async def next_poll_at(self, job: Job, now: float, attempt: int) -> float:
        if self._learned is None or job.submitted_at is None:
            return self.schedule.next_poll_at(now, attempt, job.deadline_at)
        window = await self._durations.window(self._key(job))
        return self._learned.next_poll_at(now, job.submitted_at, attempt, job.deadline_at, window)

    async def observe(self, job: Job, finished_at: float | None) -> None:
        if finished_at is not None and job.submitted_at is not None and not job.as_document:
            await self._durations.observe(self._key(job), max(0.0, finished_at - job.submitted_at))
