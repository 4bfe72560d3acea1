"""The poll step: each running picture's operation is polled once, within the poll budget;
what ended is recorded, and when all have (or the deadline passed) the job is handed over.
Otherwise the planner says when to poll again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.backend import ImageReady, OperationFailed, OperationState
from bot.core.errors import ErrorKind
from bot.core.images import is_image
from bot.core.jobs import VARIANT_OK, Job, JobState, new_idempotency_key
from bot.core.pictures import Pictures
from bot.services.job_endings import Endings, expiry_reason
from bot.services.job_handover import Handover
from bot.services.job_writer import JobWriter
from bot.services.model_fallback import ModelFallback
from bot.services.operation_polls import OperationPolls
from bot.services.planner import PollPlanner
from bot.services.quotas import Quotas
from bot.telegram.delivery import Delivery
from bot.yandex.errors import OperationNotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Poller:
    polls: OperationPolls
    planner: PollPlanner
    delivery: Delivery
    quotas: Quotas
    writer: JobWriter
    endings: Endings
    handover: Handover
    fallback: ModelFallback
    clock: Callable[[], float]

    async def poll(self, job: Job) -> None:
        """Poll the pictures still running; show how many have ended; when all have, or
        the deadline passed, hand over what there is."""
        pictures = Pictures.of(job)
        results, images = list(pictures.results), {}
        last_error, finished_at, running = job.last_error, None, False
        for i, operation_id in enumerate(pictures.ops):
            if results[i] or not operation_id:
                continue
            state = await self.polls.once(job, operation_id)
            if self._gone_original(job, state):
                await self._regenerate(job)
                return
            if isinstance(state, ImageReady) and not is_image(state.image):
                log.warning("job %s: picture %d is not a JPEG, PNG or WebP image", job.id, i)
                results[i] = ErrorKind.FAILED
            elif isinstance(state, ImageReady):
                await self.planner.observe(job, state.finished_at)
                results[i], images[i], finished_at = VARIANT_OK, state.image, state.finished_at
            elif isinstance(state, OperationFailed):
                results[i] = state.error.kind
            elif isinstance(state, ErrorKind):
                last_error = state
            else:
                running = True
        job = job.but(last_error=last_error)
        late = not all(results) and self.clock() >= job.deadline_at
        if late:
            results = [result or expiry_reason(job) for result in results]
        pictures_now = pictures.but(results=tuple(results))
        if pictures_now.all_ended:
            failed_as = JobState.EXPIRED if late else JobState.FAILED
            await self.handover.end(job, pictures_now, images, finished_at, failed_as)
        elif running and not job.is_album and await self.fallback.stalled(job):
            return
        else:
            if pictures_now.ended > pictures.ended:
                await self.delivery.progress(pictures_now.into(job), pictures_now.ended)
            attempts = job.attempts + 1
            job = pictures_now.into(job).but(attempts=attempts)
            next_at = await self.planner.next_poll_at(job, self.clock(), attempts)
            await self.writer.save(job.but(next_poll_at=next_at))

    @staticmethod
    def _gone_original(job: Job, state: OperationState | ErrorKind) -> bool:
        """An Original whose operation Yandex no longer has, not drawn again yet."""
        return (
            isinstance(state, OperationFailed)
            and isinstance(state.error, OperationNotFound)
            and job.source_id is not None
            and not job.regenerated
        )

    async def _regenerate(self, job: Job) -> None:
        """An Original asked for after Yandex dropped the result: draw it again with the
        same seed, once (a failed operation is never submitted again), counted against the
        user's daily quota like any generation."""
        refusal = await self.quotas.charge(job.user_id)
        if refusal is not None:
            await self.endings.fail(job, ErrorKind.DAILY_LIMIT)
            return
        log.info("job %s: operation gone, generating the original again", job.id)
        await self.writer.save(
            job.moved_to(
                JobState.SUBMITTED,
                operation_id=None,
                idempotency_key=new_idempotency_key(),
                attempts=0,
                next_poll_at=self.clock(),
            )
        )
