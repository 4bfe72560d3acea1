"""The tracker's poll timing, and the feedback that teaches it (how long each generation
took). Three policies (POLL_SCHEDULE): "hazard" spends the poll quota on the jobs most
likely to have finished since their last poll; "learned" polls densely in a window planned
on past durations; "growing" is the fixed growing schedule (also the learned one's
fallback without history)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bot.core.hazard import FinishModel, HazardPolicy, Prior
from bot.core.jobs import Job
from bot.core.schedule import LearnedSchedule, PollSchedule, PollWindow
from bot.services.durations import DurationModel

# The load threshold is computed on at most this many pending jobs (a random sample).
LOAD_SAMPLE = 1000
# A job is reviewed against the current model at least this often while the model has
# fewer durations than this, so pending jobs follow a cold start's first finishes.
YOUNG_MODEL = 100
# While the quota is contended, each job is reviewed at least every this many min_gaps.
CONTENDED_REVIEW = 2.0
# A job left unplanned this long past its longest gap is gone (finished, failed, cancelled).
FORGET_AFTER = 60.0


@dataclass(slots=True)
class _Pending:
    key: str
    submitted_at: float
    polled_at: float  # the last poll (or the submit)
    seen_at: float


class HazardPlanner:
    """Keeps the pending jobs this instance planned, the load threshold that fits them in
    the quota, and a finish model per model and ratio."""

    def __init__(
        self, policy: HazardPolicy, durations: DurationModel[FinishModel], prior: Prior
    ) -> None:
        self._policy = policy
        self._durations = durations
        self._empty = FinishModel(prior, [])
        self._pending: dict[str, _Pending] = {}
        self._threshold = policy.floor
        self._threshold_at = self._window_end = -float("inf")

    async def next_poll_at(self, key: str, job: Job, now: float) -> float:
        """After a submit or a poll that found the job pending."""
        assert job.submitted_at is not None
        entry = self._pending.get(job.id)
        if entry is None:
            entry = self._pending[job.id] = _Pending(key, job.submitted_at, now, now)
        entry.polled_at = entry.seen_at = now
        return await self._plan(entry, job, now)

    async def recheck(self, key: str, job: Job, now: float) -> float | None:
        """A due job: None to poll it now, or a later time if the model or the load has
        changed since it was planned."""
        entry = self._pending.get(job.id)
        if entry is None or job.submitted_at is None:
            return None  # planned by another instance or before a restart: poll
        entry.seen_at = now
        at = await self._plan(entry, job, now)
        return at if at > now + self._policy.min_gap / 10 else None

    async def observe(self, key: str, job_id: str, duration: float | None) -> None:
        self._pending.pop(job_id, None)
        if duration is not None:
            await self._durations.observe(key, duration)

    async def _plan(self, entry: _Pending, job: Job, now: float) -> float:
        model = await self._model(entry.key)
        threshold = await self._load_threshold(now)
        since = entry.polled_at - entry.submitted_at
        at = entry.submitted_at + self._policy.next_poll(model, since, threshold)
        contended = threshold > self._policy.floor
        if contended:
            # The quota of the current window went to the jobs whose chances reach the
            # threshold by its end: those are polled within it, as soon as they may be; the
            # others wait for the window in which they would make the cut.
            earliest = max(now, entry.polled_at + self._policy.min_gap)
            if at <= self._window_end:
                at = earliest
            else:
                at = max(earliest, self._window_end, at - self._policy.min_gap)
        # A young model changes with every finish, and a contended quota with every arrival
        # and delivery: look again soon, whatever the plan says now.
        review = self._policy.max_gap
        if model.samples < YOUNG_MODEL:
            review = self._policy.min_gap * (2 + model.samples / 4)
        if contended:
            review = min(review, self._policy.min_gap * CONTENDED_REVIEW)
        at = min(at, max(now, entry.polled_at) + review)
        return min(at, job.deadline_at)

    async def _model(self, key: str) -> FinishModel:
        return await self._durations.window(key) or self._empty

    async def _load_threshold(self, now: float) -> float:
        """The threshold that fits the polls of the next min_gap in the quota, shared out
        once per min_gap window (sharing it more often would hand out a window twice)."""
        gap = self._policy.min_gap
        if now - self._threshold_at < gap:
            return self._threshold
        self._threshold_at = now
        forget = now - self._policy.max_gap - FORGET_AFTER
        for job_id in [j for j, e in self._pending.items() if e.seen_at < forget]:
            del self._pending[job_id]
        end = self._window_end = now + gap
        # Jobs that may be polled before `end` (their least gap is over by then).
        due = [e for e in self._pending.values() if e.polled_at + gap <= end]
        sample = due if len(due) <= LOAD_SAMPLE else random.sample(due, LOAD_SAMPLE)
        models = {e.key: await self._model(e.key) for e in sample}
        chances = [
            models[e.key].chance(e.polled_at - e.submitted_at, end - e.submitted_at) for e in sample
        ]
        self._threshold = self._policy.threshold(chances, len(due))
        return self._threshold


class PollPlanner:
    def __init__(
        self,
        schedule: PollSchedule,
        durations: DurationModel[PollWindow | None] | None,
        *,
        model_uri: str,
        learned: LearnedSchedule | None,
        hazard: HazardPlanner | None = None,
    ) -> None:
        self.schedule = schedule
        self._durations = durations
        self._model_uri = model_uri
        self._learned = learned
        self._hazard = hazard

    def _key(self, job: Job) -> str:
        """Generation time depends on the model and the picture's shape."""
        return f"{self._model_uri}|{job.request.ratio}"

    def duration_key(self, job: Job) -> str:
        """Where the finish times of jobs like this one are learned (for estimates)."""
        return self._key(job)

    async def next_poll_at(self, job: Job, now: float, attempt: int) -> float:
        if job.submitted_at is None:
            return self.schedule.next_poll_at(now, attempt, job.deadline_at)
        if self._hazard is not None:
            return await self._hazard.next_poll_at(self._key(job), job, now)
        if self._learned is None or self._durations is None:
            return self.schedule.next_poll_at(now, attempt, job.deadline_at)
        window = await self._durations.window(self._key(job))
        return self._learned.next_poll_at(now, job.submitted_at, attempt, job.deadline_at, window)

    async def recheck(self, job: Job, now: float) -> float | None:
        """Just before a due poll: None to poll now, or when to poll instead (the hazard
        policy moves a job later when the model or the load changed since it was planned;
        the other schedules keep their plans)."""
        if self._hazard is None:
            return None
        return await self._hazard.recheck(self._key(job), job, now)

    async def observe(self, job: Job, finished_at: float | None) -> None:
        if job.submitted_at is None or job.as_document:
            return
        duration = None if finished_at is None else max(0.0, finished_at - job.submitted_at)
        if self._hazard is not None:
            await self._hazard.observe(self._key(job), job.id, duration)
        elif duration is not None and self._durations is not None:
            await self._durations.observe(self._key(job), duration)
