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
LOAD_SAMPLE = 300
# The quota is shared out over this many min_gaps ahead: a job polled late in one min_gap
# is counted where its polls fall, and the quota goes where the hazard is highest.
HORIZON = 3.0
# A poll counts from when it was due if it is answered within this many min_gaps of that,
# else from its answer.
STARTED_WITHIN = 0.5
# A job is reviewed against the current model at least this often while the model has
# fewer durations than this, so pending jobs follow a cold start's first finishes.
YOUNG_MODEL = 100
# While the quota is contended, each job is reviewed at least every this many min_gaps.
CONTENDED_REVIEW = 2.0
# Reviews of all pending jobs together stay under this many times the poll quota: with
# thousands pending, each looked at every few seconds would keep the loop busy for nothing.
REVIEWS_PER_POLL = 8.0
# A job left unplanned this long past its longest gap is gone (finished, failed, cancelled).
FORGET_AFTER = 60.0


@dataclass(slots=True)
class _Pending:
    key: str
    submitted_at: float
    polled_at: float  # the last poll (or the submit)
    seen_at: float
    started_at: float | None = None  # when the poll under way was due (set by `recheck`)


class HazardPlanner:
    """Keeps the pending jobs this instance planned, the load threshold that fits their
    polls in the quota over the next few min_gaps, and a finish model per model and ratio."""

    def __init__(
        self, policy: HazardPolicy, durations: DurationModel[FinishModel], prior: Prior
    ) -> None:
        self._policy = policy
        self._durations = durations
        self._empty = FinishModel(prior, [])
        self._pending: dict[str, _Pending] = {}
        self._threshold = policy.floor
        self._threshold_at = -float("inf")

    async def next_poll_at(self, key: str, job: Job, now: float) -> float:
        """After a submit or a poll that found the job pending."""
        assert job.submitted_at is not None
        entry = self._pending.get(job.id)
        if entry is None:
            entry = self._pending[job.id] = _Pending(key, job.submitted_at, now, now)
        # The least gap runs from when the poll was due, not from its answer: the delays of
        # the claim and the round trip are not added to every gap. A poll answered long
        # after that (it waited for the token bucket or a picture place) counts from its
        # answer.
        started = entry.started_at
        if started is not None and now - started <= self._policy.min_gap * STARTED_WITHIN:
            entry.polled_at = started
        else:
            entry.polled_at = now
        entry.seen_at = now
        entry.started_at = None
        return await self._plan(entry, job, now)

    async def recheck(self, key: str, job: Job, now: float) -> float | None:
        """A due job: None to poll it now, or a later time if the model or the load has
        changed since it was planned."""
        entry = self._pending.get(job.id)
        if entry is None or job.submitted_at is None:
            return None  # planned by another instance or before a restart: poll
        entry.seen_at = now
        at = await self._plan(entry, job, now)
        if at > now + self._policy.min_gap / 10:
            return at
        # Polled now: counted from when it was due, never sooner than the least gap after
        # the last poll.
        entry.started_at = min(now, max(job.next_poll_at, entry.polled_at + self._policy.min_gap))
        return None

    async def observe(self, key: str, job_id: str, duration: float | None) -> None:
        self._pending.pop(job_id, None)
        if duration is not None:
            await self._durations.observe(key, duration)

    async def _plan(self, entry: _Pending, job: Job, now: float) -> float:
        model = await self._model(entry.key)
        threshold = await self._load_threshold(now)
        since = entry.polled_at - entry.submitted_at
        at = entry.submitted_at + self._policy.next_poll(model, since, threshold)
        # A young model changes with every finish, and a contended quota with every arrival
        # and delivery: look again soon, whatever the plan says now.
        review = self._policy.max_gap
        if model.samples < YOUNG_MODEL:
            review = self._policy.min_gap * (2 + model.samples / 4)
        if threshold > self._policy.floor:
            review = min(review, self._policy.min_gap * CONTENDED_REVIEW)
        review = max(review, len(self._pending) / (REVIEWS_PER_POLL * self._policy.rate))
        at = min(at, max(now, entry.polled_at) + review)
        return min(at, job.deadline_at)

    async def _model(self, key: str) -> FinishModel:
        return await self._durations.window(key) or self._empty

    async def _load_threshold(self, now: float) -> float:
        """The threshold that fits the polls of the next HORIZON min_gaps in the quota,
        shared out again every min_gap."""
        gap = self._policy.min_gap
        if now - self._threshold_at < gap:
            return self._threshold
        self._threshold_at = now
        forget = now - self._policy.max_gap - FORGET_AFTER
        for job_id in [j for j, e in self._pending.items() if e.seen_at < forget]:
            del self._pending[job_id]
        entries = list(self._pending.values())
        sample = entries if len(entries) <= LOAD_SAMPLE else random.sample(entries, LOAD_SAMPLE)
        models = {key: await self._model(key) for key in {e.key for e in sample}}
        horizon = HORIZON * gap
        polls = [
            poll
            for e in sample
            for poll in self._policy.polls_ahead(
                models[e.key],
                e.polled_at - e.submitted_at,
                now - e.submitted_at,
                now + horizon - e.submitted_at,
            )
        ]
        slots = self._policy.rate * self._policy.headroom * horizon
        self._threshold = self._policy.share(polls, slots * len(sample) / max(1, len(entries)))
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
