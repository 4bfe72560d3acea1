"""The one scheduler that moves every job forward: submit, poll, deliver.

A single loop claims the jobs that are due and runs each step as a tracked task, so thousands
of waiting jobs cost a store entry each, not a sleeping task each. Polls share one rate
limiter (the Yandex quota). Transient errors never lose a job: it is simply due again later.
The same loop renews the leases of the jobs in flight and rides out store outages (any store
error, backing off with jitter); it never dies, and its heartbeat shows when it is stuck.

Each job's model is reached through `Backends`: an asynchronous one answers the submit with
an operation to poll, a synchronous one with the picture, delivered in the same step. The
job stays claimed in the store during that call, so a process killed meanwhile leaves it to
be drawn again once its lease runs out. A picture that was drawn is never drawn again: when
Telegram puts its delivery off, it is kept in the store and only the delivery is retried.

A voice request is a job from its admission: while it is heard (state hearing) its step is
the recognition (`Hearer`), which ends in the request it names or in one explanation. The
job's lease is renewed meanwhile, so after a crash (kill -9) another instance, or the
restarted one, hears it again; a shutdown tells its user to send it again and ends it.

Every job is an album to its steps (a single picture, of one: bot/core/pictures.py), so each
step is written once, in its own module: the submit (job_submit), the poll (job_poll), the
handover of what was drawn (job_handover) and the keeping of pictures whose delivery was put
off (kept_pictures); how jobs end is in job_endings, and a single picture's way around a
refused model in model_fallback. This module is the loop and the choice of each job's step.

Every job ends: an unexpected error in one of its steps is retried a few times, then the job
fails with a message; a result that cannot be delivered by the deadline is a failure; and a
failure that cannot be told is given up at the job's `keep_until`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine
from contextlib import suppress
from typing import Any, Protocol

from bot.core.budget import Budget
from bot.core.errors import ErrorKind, StoreUnavailable
from bot.core.jobs import Job, JobState
from bot.core.pictures import Pictures
from bot.services.availability import ModelAvailability
from bot.services.backends import Backends
from bot.services.job_endings import expiry_reason
from bot.services.job_steps import job_steps
from bot.services.job_writer import STORE_RETRY_MAX
from bot.services.metrics import Metrics
from bot.services.places import PicturePlaces
from bot.services.planner import PollPlanner
from bot.services.quotas import Quotas
from bot.services.wallet import Wallet
from bot.storage.base import JobStore
from bot.storage.picture_cache import PictureCache
from bot.telegram.chat_actions import ChatActions
from bot.telegram.delivery import Delivery
from bot.yandex.enhancer import PromptEnhancer

log = logging.getLogger(__name__)

# A job whose steps fail this many times with an unexpected error is failed with a message.
STEP_ERRORS_MAX = 3
# A job whose chat holds its share of picture places is polled again this much later.
CHAT_BUSY_WAIT = 2.0
# At shutdown, how long telling a user that their voice was not heard may take.
TELL_AT_SHUTDOWN = 3.0


class Hearer(Protocol):
    """Hears a voice request (bot/services/voice.py)."""

    async def hear(self, job: Job) -> Job | None:
        """The request the voice names, as a job to draw (same id); None when it names
        none and its user has been told why."""

    async def interrupted(self, job: Job) -> None:
        """Tell the user the bot stopped while hearing; give back what admission counted."""


class Tracker:
    def __init__(
        self,
        *,
        store: JobStore,
        backends: Backends,
        delivery: Delivery,
        actions: ChatActions,
        planner: PollPlanner,
        metrics: Metrics,
        cache: PictureCache,
        enhancer: PromptEnhancer,
        poll_budget: Budget,
        submit_patience: float,
        quotas: Quotas,
        availability: ModelAvailability,
        clock: Callable[[], float] = time.time,
        max_in_flight: int = 200,
        pictures: PicturePlaces | None = None,
        idle_wait: float = 1.0,
        shutdown_grace: float = 10.0,
        backlog_max: int = 1000,
        stall_after: float = 60.0,
        wallet: Wallet | None = None,
    ) -> None:
        self._store = store
        self._backends = backends
        self._delivery = delivery
        self._actions = actions
        self._planner = planner
        self._metrics = metrics
        self._clock = clock
        self._max_in_flight = max_in_flight
        self._places = pictures or PicturePlaces()
        self._idle_wait = idle_wait
        self.shutdown_grace = shutdown_grace
        self.hearer: Hearer | None = None  # set once the voice service exists
        self._in_flight: dict[asyncio.Task[None], str] = {}
        self._backlog: list[Job] = []  # accepted while the store was unreachable
        self._backlog_max = backlog_max
        self._stall_after = stall_after
        self._progress_at = time.monotonic()  # the loop's heartbeat
        self._renewed_at = 0.0
        self._wakeup = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        steps = job_steps(
            store=store,
            backends=backends,
            delivery=delivery,
            actions=actions,
            planner=planner,
            metrics=metrics,
            cache=cache,
            enhancer=enhancer,
            poll_budget=poll_budget,
            submit_patience=submit_patience,
            quotas=quotas,
            availability=availability,
            wallet=wallet,
            places=self._places,
            clock=clock,
            stopping=lambda: self._stopping,
        )
        self._writer, self._kept, self._endings = steps.writer, steps.kept, steps.endings
        self._handover, self._submitter, self._poller = (
            steps.handover,
            steps.submitter,
            steps.poller,
        )

    async def enqueue(self, job: Job) -> bool:
        """Track a new job; False if it is tracked already (its request came twice). If the
        store is down, keep it here until it is back; False also when too many are held
        already: then the user has been told that the bot is busy."""
        try:
            if not await self._store.add(job):
                return False
        except StoreUnavailable:
            if len(self._backlog) >= self._backlog_max:
                log.warning("job %s: store unavailable and backlog full, refused", job.id)
                self._metrics.failures.labels(kind=ErrorKind.BUSY, model=job.request.model).inc()
                await self._delivery.failure(job, ErrorKind.BUSY)
                return False
            log.warning("job %s: store unavailable, holding the job in memory", job.id)
            self._backlog.append(job)
        self._show_progress(job)
        self._wakeup.set()
        return True

    async def attach_status(self, job_id: str, message_id: int, chat_id: int) -> None:
        """Record the job's status message; if the job has ended already (its status reply
        was slow, e.g. held back by a group's flood limit), delete the message instead of
        leaving "Generating…" forever."""
        if any(job.id == job_id for job in self._backlog):
            self._backlog = [
                job.but(status_message_id=message_id) if job.id == job_id else job
                for job in self._backlog
            ]
            self._wakeup.set()
            return
        try:
            attached = await self._store.attach_status(job_id, message_id, self._clock())
        except StoreUnavailable:
            log.warning("job %s: store unavailable, status message not recorded", job_id)
            attached = True  # the job runs without it, as after a lost answer
        if not attached:
            log.info("job %s: ended before its status message came, deleting it", job_id)
            await self._delivery.drop_status(chat_id, message_id)
        else:
            await self._submitter.status_came(job_id, message_id)
        self._wakeup.set()

    def start(self) -> None:
        self._progress_at = time.monotonic()
        self._runner = asyncio.create_task(self._run(), name="tracker")

    def stalled(self) -> bool:
        """Whether the loop has made no progress (a full turn with the store) for a while:
        the store refuses every call, or the loop is stuck. For /healthz."""
        return time.monotonic() - self._progress_at > self._stall_after

    async def stop(self) -> None:
        """Stop claiming, let steps in flight finish, hand the rest back to the store; all
        within the shutdown grace, even with the store down or refusing."""
        self._stopping = True
        self._wakeup.set()
        deadline = time.monotonic() + self.shutdown_grace
        if self._runner is not None:
            await _finish_within({self._runner}, self.shutdown_grace)
        if self._in_flight:
            await _finish_within(set(self._in_flight), deadline - time.monotonic())
        if self._backlog:
            with suppress(StoreUnavailable, TimeoutError):
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.1)):
                    await self._flush_backlog()
        if self._backlog:
            log.error("%d new jobs could not be stored before shutdown", len(self._backlog))

    async def _run(self) -> None:
        """Never ends before `stop`: a store error is an outage (backed off with jitter),
        anything else a bug that is logged and retried the same way."""
        outage = 0
        while not self._stopping:
            self._wakeup.clear()
            try:
                await self._flush_backlog()
                await self._renew_leases()
                jobs = await self._claim()
                self._progress_at = time.monotonic()
                if outage:
                    log.warning("store is back")
                    outage = 0
                if len(self._in_flight) >= self._max_in_flight:
                    await self._nap(self._idle_wait)  # a finishing step wakes us up
                elif not jobs:
                    await self._sleep_until_due()
            except StoreUnavailable as exc:
                if not outage:
                    log.warning("store unavailable (%s), retrying", exc)
                outage += 1
                await self._nap(_backoff(outage))
            except Exception:
                log.exception("scheduler loop failed, retrying")
                outage += 1
                await self._nap(_backoff(outage))

    async def _claim(self) -> list[Job]:
        free = self._max_in_flight - len(self._in_flight)
        jobs = await self._store.claim_due(self._clock(), free) if free > 0 else []
        for job in jobs:
            self._spawn(self._step(job), job)
        return jobs

    async def _flush_backlog(self) -> None:
        while self._backlog:
            await self._store.add(self._backlog[0])
            self._backlog.pop(0)

    async def _renew_leases(self) -> None:
        """Renew every third of a lease, so a long step (a flood wait) keeps its job."""
        now = self._clock()
        if self._in_flight and now - self._renewed_at >= self._store.lease_seconds / 3:
            await self._store.renew(set(self._in_flight.values()), now)
            self._renewed_at = now

    async def _sleep_until_due(self) -> None:
        due = await self._store.next_due_at()
        wait = self._idle_wait if due is None else due - self._clock()
        # Also wake up regularly: another instance may add jobs to a shared store.
        await self._nap(min(max(wait, 0.0), self._idle_wait, self._store.lease_seconds / 3))

    async def _nap(self, seconds: float) -> None:
        """Sleep until woken or `seconds` pass; always yields, so the loop never spins."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)

    def _spawn(self, coro: Coroutine[Any, Any, None], job: Job) -> None:
        task = asyncio.create_task(coro, name=f"job-{job.id}")
        self._in_flight[task] = job.id
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._wakeup.set()

    async def _step(self, job: Job) -> None:
        try:
            await self._advance(job)
        except asyncio.CancelledError:
            if job.state is JobState.HEARING and self.hearer is not None:
                await self._interrupted(job, self.hearer)
            else:
                with suppress(StoreUnavailable):
                    await self._store.release(job)
            raise
        except StoreUnavailable:
            # Not the job's fault: its claim runs out and it is due again after the outage.
            log.warning("job %s: store unavailable during its step, will resume", job.id)
        except Exception:
            log.exception("job %s: unexpected error in its step", job.id)
            await self._after_error(job)

    async def _interrupted(self, job: Job, hearer: Hearer) -> None:
        """A voice heard at shutdown: its user is told to send it again and it ends (a
        store in memory would lose it; Redis would hear it after the restart, unasked)."""
        try:
            async with asyncio.timeout(TELL_AT_SHUTDOWN):
                await hearer.interrupted(job)
                await self._endings.finish(job.moved_to(JobState.FAILED))
        except (TimeoutError, StoreUnavailable):
            log.warning("job %s: voice interrupted by shutdown, not ended", job.id)

    async def _after_error(self, job: Job) -> None:
        """A bounded retry of a step that failed unexpectedly; then the user is told."""
        job = job.but(step_errors=job.step_errors + 1)
        if job.step_errors < STEP_ERRORS_MAX and self._clock() < job.deadline_at:
            await self._writer.save(job.but(next_poll_at=self._writer.later()))
            return
        try:
            await self._endings.fail(job, ErrorKind.INTERNAL)
        except StoreUnavailable:
            log.warning("job %s: store unavailable while failing it, will resume", job.id)
        except Exception:
            log.exception("job %s: cannot even fail, ending it untold", job.id)
            await self._endings.end_untold(job)

    async def _advance(self, job: Job) -> None:
        """The job's next step. Every job is an album (a single picture, of one): its
        pictures are submitted, polled and handed over by the same steps."""
        self._show_progress(job)
        now = self._clock()
        if now >= job.keep_until:
            await self._endings.end_untold(job)
        elif job.cancel_requested:
            await self._endings.cancel(job)
        elif job.untold_failure is not None:
            await self._endings.fail(job, job.untold_failure)
        elif job.request.model not in self._backends:
            log.warning("job %s: unknown model, dropped", job.id)
            await self._endings.fail(job, ErrorKind.BAD_REQUEST)
        elif job.state is JobState.HEARING:
            await self._hear(job)
        elif job.is_album and not self._backends.capabilities[job.request.model].variants:
            # The parser refuses `--n` for such a model; a job from an older version is not
            # drawn as something it cannot be.
            log.warning("job %s: the model draws no variants, dropped", job.id)
            await self._endings.fail(job, ErrorKind.BAD_REQUEST)
        elif job.kept:
            async with self._places.place(job.chat_id):
                await self._handover.end(job, Pictures.of(job), await self._kept.of(job))
        elif Pictures.of(job).only_files:  # a cache hit: Telegram has every picture
            await self._handover.end(job, Pictures.of(job), {})
        elif job.state is JobState.SUBMITTED:
            await self._submitter.submit(job)
        elif self._places.chat_full(job.chat_id) and now >= job.deadline_at:
            await self._endings.fail(job, expiry_reason(job), JobState.EXPIRED)
        elif self._places.chat_full(job.chat_id):
            await self._writer.save(job.but(next_poll_at=now + CHAT_BUSY_WAIT))
        elif not job.is_album and (later := await self._planner.recheck(job, now)) is not None:
            await self._writer.save(job.but(next_poll_at=later))
        else:
            # A place for the pictures the poll may bring, kept until they are delivered:
            # polls wait for deliveries rather than pictures piling up in memory.
            async with self._places.place(job.chat_id):
                await self._poller.poll(job)

    async def _hear(self, job: Job) -> None:
        """Recognise a voice request; what it names is saved to be drawn at once."""
        if self.hearer is None:  # voice prompts turned off since it was admitted
            await self._endings.fail(job, ErrorKind.BAD_REQUEST)
            return
        heard = await self.hearer.hear(job)
        if heard is None:
            await self._endings.finish(job.moved_to(JobState.FAILED))
            return
        log.info("job %s: heard", job.id)
        await self._writer.save(heard.but(next_poll_at=self._clock()))
        self._wakeup.set()

    def _show_progress(self, job: Job) -> None:
        """ "Sending a photo…" in the chat that waits; an inline message has its own text."""
        if job.inline_message_id is None and job.state is not JobState.HEARING:
            self._actions.keep(job.id, job.chat_id)


def _backoff(outages: int) -> float:
    """Exponential, capped, with jitter so instances do not retry in step."""
    return min(0.1 * 2.0**outages, STORE_RETRY_MAX) * random.uniform(0.5, 1.5)


async def _finish_within(tasks: set[asyncio.Task[None]], seconds: float) -> None:
    """Let `tasks` finish for up to `seconds`, then cancel the rest and wait for them."""
    if not tasks:
        return
    _, unfinished = await asyncio.wait(tasks, timeout=max(seconds, 0.0))
    for task in unfinished:
        task.cancel()
    await asyncio.gather(*unfinished, return_exceptions=True)
