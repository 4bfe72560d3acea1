"""The one scheduler that moves every job forward: submit, poll, deliver.

A single loop claims the jobs that are due and runs each step as a tracked task, so thousands
of waiting jobs cost a heap entry each, not a sleeping task each. Polls share one rate
limiter (the Yandex quota). Transient errors never lose a job: it is simply due again later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from contextlib import suppress
from typing import Any

from aiolimiter import AsyncLimiter

from bot.chat_actions import ChatActions
from bot.delivery import Delivery, Outcome
from bot.errors import ErrorKind, TransientError, YandexArtError
from bot.jobs import Job, JobState
from bot.schedule import PollSchedule
from bot.store import JobStore
from bot.yandex_art import ImageBackend, ImageReady, OperationFailed, OperationState

log = logging.getLogger(__name__)

# When the deadline passes while Yandex keeps failing, say why instead of "timed out".
_DEADLINE_REASONS = frozenset({ErrorKind.QUOTA, ErrorKind.UNAVAILABLE})


def expiry_reason(job: Job) -> ErrorKind:
    return job.last_error if job.last_error in _DEADLINE_REASONS else ErrorKind.TIMEOUT


class Tracker:
    def __init__(
        self,
        *,
        store: JobStore,
        backend: ImageBackend,
        delivery: Delivery,
        actions: ChatActions,
        schedule: PollSchedule,
        poll_rate: float,
        submit_patience: float,
        clock: Callable[[], float] = time.time,
        max_in_flight: int = 200,
        idle_wait: float = 1.0,
        shutdown_grace: float = 10.0,
    ) -> None:
        self._store = store
        self._backend = backend
        self._delivery = delivery
        self._actions = actions
        self._schedule = schedule
        # One poll per 1/rate seconds: never more than `poll_rate` in any second.
        self._limiter = AsyncLimiter(1, 1 / poll_rate)
        self._submit_patience = submit_patience
        self._clock = clock
        self._max_in_flight = max_in_flight
        self._idle_wait = idle_wait
        self._shutdown_grace = shutdown_grace
        self._tasks: set[asyncio.Task[None]] = set()
        self._wakeup = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False

    async def enqueue(self, job: Job) -> None:
        await self._store.add(job)
        self._actions.keep(job.id, job.chat_id)
        self._wakeup.set()

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run(), name="tracker")

    async def stop(self) -> None:
        """Stop claiming, let steps in flight finish, hand back the rest to the store."""
        self._stopping = True
        self._wakeup.set()
        if self._runner is not None:
            await self._runner
        if self._tasks:
            _, unfinished = await asyncio.wait(set(self._tasks), timeout=self._shutdown_grace)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            free = self._max_in_flight - len(self._tasks)
            jobs = await self._store.claim_due(self._clock(), free) if free > 0 else []
            for job in jobs:
                self._spawn(self._step(job), name=f"job-{job.id}")
            if not jobs:
                await self._sleep_until_due()

    async def _sleep_until_due(self) -> None:
        due = await self._store.next_due_at()
        wait = self._idle_wait if due is None else due - self._clock()
        # Also wake up regularly: another instance may add jobs to a shared store.
        wait = min(max(wait, 0.0), self._idle_wait)
        if wait > 0:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), wait)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wakeup.set()

    async def _step(self, job: Job) -> None:
        try:
            await self._advance(job)
        except asyncio.CancelledError:
            await self._store.release(job)
            raise
        except Exception:
            log.exception("job %s: unexpected error, will retry", job.id)
            await self._store.save(job.but(next_poll_at=self._later()))

    async def _advance(self, job: Job) -> None:
        self._actions.keep(job.id, job.chat_id)
        if job.untold_failure is not None:
            await self._fail(job, job.untold_failure)
        elif job.state is JobState.SUBMITTED:
            await self._submit(job)
        else:
            await self._poll(job)

    async def _submit(self, job: Job) -> None:
        now = self._clock()
        if now >= job.deadline_at:
            await self._fail(job, expiry_reason(job), JobState.EXPIRED)
            return
        try:
            operation_id = await self._backend.submit(job.request, job.seed, job.idempotency_key)
        except TransientError as exc:
            if now - job.created_at >= self._submit_patience:
                await self._fail(job, exc.kind)
                return
            log.info("job %s: submit failed (%s), will retry", job.id, exc.kind)
            await self._store.save(
                job.but(
                    attempts=job.attempts + 1,
                    last_error=exc.kind,
                    next_poll_at=self._schedule.next_poll_at(now, job.attempts, job.deadline_at),
                )
            )
            return
        except YandexArtError as exc:
            await self._fail(job, exc.kind)
            return
        log.info("job %s: submitted as operation %s", job.id, operation_id)
        await self._store.save(
            job.moved_to(
                JobState.PENDING,
                operation_id=operation_id,
                attempts=0,
                last_error=None,
                next_poll_at=self._schedule.next_poll_at(now, 0, job.deadline_at),
            )
        )

    async def _poll(self, job: Job) -> None:
        assert job.operation_id is not None
        last_error = job.last_error
        state: OperationState | None = None
        async with self._limiter:
            try:
                state = await self._backend.get_operation(job.operation_id)
            except TransientError as exc:
                last_error = exc.kind
            except YandexArtError as exc:
                state = OperationFailed(exc)
        if isinstance(state, ImageReady):
            await self._deliver(job, state.image)
        elif isinstance(state, OperationFailed):
            await self._fail(job, state.error.kind)
        elif self._clock() >= job.deadline_at:
            await self._fail(job.but(last_error=last_error), expiry_reason(job), JobState.EXPIRED)
        else:
            attempts = job.attempts + 1
            next_at = self._schedule.next_poll_at(self._clock(), attempts, job.deadline_at)
            await self._store.save(
                job.but(attempts=attempts, last_error=last_error, next_poll_at=next_at)
            )

    async def _deliver(self, job: Job, image: bytes) -> None:
        outcome = await self._delivery.photo(job, image)
        if outcome is Outcome.RETRY_LATER:
            # Yandex keeps the result for days: fetch it again on the next try.
            await self._store.save(job.but(next_poll_at=self._later()))
            return
        log.info("job %s: picture %s", job.id, outcome)
        await self._finish(job.moved_to(JobState.DONE))

    async def _fail(self, job: Job, kind: ErrorKind, state: JobState = JobState.FAILED) -> None:
        log.info("job %s: %s (%s)", job.id, state, kind)
        outcome = await self._delivery.failure(job, kind)
        if outcome is Outcome.RETRY_LATER:
            await self._store.save(job.but(untold_failure=kind, next_poll_at=self._later()))
            return
        await self._finish(job.moved_to(state, untold_failure=None))

    async def _finish(self, job: Job) -> None:
        self._actions.drop(job.id)
        await self._store.save(job)

    def _later(self) -> float:
        return self._clock() + self._schedule.max_interval
