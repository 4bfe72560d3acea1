"""The submit step: each picture not submitted (nor cached, nor ended) yet goes to its
model, in line for the model's submit budget. An asynchronous model answers with an
operation to poll, a synchronous one with the picture, delivered in the same step. Each
picture has its own seed and idempotency key, so a retry after a crash or a refused submit
starts nothing twice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field

from bot.core.backend import ImageBackend, ImageReady, Submitted
from bot.core.errors import BackendError, ErrorKind, StoreUnavailable, TransientBackendError
from bot.core.images import is_image
from bot.core.jobs import VARIANT_OK, Job, JobState
from bot.core.models import NoModel
from bot.core.pictures import Pictures, idempotency_key
from bot.services.availability import ModelAvailability
from bot.services.backends import Backends
from bot.services.job_endings import Endings, expiry_reason
from bot.services.job_handover import Handover
from bot.services.job_writer import JobWriter
from bot.services.metrics import Metrics
from bot.services.model_fallback import ModelFallback
from bot.services.places import PicturePlaces
from bot.services.planner import PollPlanner
from bot.storage.base import JobStore
from bot.telegram.delivery import Delivery
from bot.yandex.enhancer import PromptEnhancer
from bot.yandex.errors import ModelRefused

log = logging.getLogger(__name__)

# While a submit (a synchronous drawing) takes longer, ask the store this often for a Cancel.
CANCEL_CHECK = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Submitter:
    store: JobStore
    backends: Backends
    availability: ModelAvailability
    enhancer: PromptEnhancer
    planner: PollPlanner
    delivery: Delivery
    places: PicturePlaces
    metrics: Metrics
    writer: JobWriter
    endings: Endings
    handover: Handover
    fallback: ModelFallback
    submit_patience: float
    clock: Callable[[], float]
    # The jobs of this process waiting for the submit budget, with their places: a status
    # message that comes after the job joined the line is shown the place too.
    in_line: dict[str, tuple[Job, int]] = field(default_factory=dict)

    async def submit(self, job: Job) -> None:
        """Submit what is left to submit; a transient refusal leaves the rest for later."""
        now = self.clock()
        if now >= job.deadline_at:
            await self.endings.fail(job, expiry_reason(job), JobState.EXPIRED)
            return
        if not job.is_album:  # the model fallback (see model_fallback.py)
            request = await self.availability.reroute(job.request)
            # An Original is that picture or nothing: never drawn by another model.
            if isinstance(request, NoModel) or (
                job.source_id is not None and request.model != job.request.model
            ):
                await self.endings.fail(job, ErrorKind.NO_MODEL)
                return
            if request is not job.request:  # another model draws it
                job = job.but(request=request)
        if job.needs_enhancing:
            enhanced = await self.enhancer.enhance(job.request.text, job.locale)
            job = job.but(enhanced_prompt=enhanced, enhance_failed=enhanced is None)
        pictures = Pictures.of(job)
        ops, results = list(pictures.ops), list(pictures.results)
        images: dict[int, bytes] = {}
        # The generation starts when the first submit is sent, not when the step began: the
        # wait in line for the budget (seconds in a burst) is not part of Yandex's time.
        sent_at: float | None = None
        for i, (operation_id, result) in enumerate(
            zip(pictures.ops, pictures.results, strict=True)
        ):
            if operation_id or result:
                continue
            await self._wait_for_submit_budget(job)
            sent_at = self.clock() if sent_at is None else sent_at
            try:
                answer = await self._draw(self.backends.backend(job.request.model), job, i)
            except TransientBackendError as exc:
                if now - job.created_at >= self.submit_patience:
                    results[i] = exc.kind
                    continue
                log.info("job %s: submit failed (%s), will retry", job.id, exc.kind)
                await self.writer.save(
                    pictures.but(ops=tuple(ops), results=tuple(results))
                    .into(job)
                    .but(
                        attempts=job.attempts + 1,
                        last_error=exc.kind,
                        next_poll_at=self.planner.schedule.next_poll_at(
                            now, job.attempts, job.deadline_at
                        ),
                    )
                )
                return
            except ModelRefused as exc:
                if not job.is_album:
                    await self.fallback.refused(job, exc.message, exc.kind)
                    return
                await self.availability.refused(job.request.model, exc.message)
                results[i] = exc.kind
                continue
            except BackendError as exc:
                results[i] = exc.kind
                continue
            if answer is None:
                await self.endings.cancel(pictures.but(ops=tuple(ops)).into(job))
                return
            await self.availability.answered(job.request.model)
            self.metrics.submits.labels(model=job.request.model).inc()
            await self.writer.record("submitted", model=job.request.model)
            if isinstance(answer, Submitted):
                ops[i] = answer.operation_id
            elif is_image(answer.image):
                # Nothing to come back to: a delivery put off until later keeps the picture.
                results[i], images[i] = VARIANT_OK, answer.image
            else:
                log.warning("job %s: the result is not a JPEG, PNG or WebP image", job.id)
                results[i] = ErrorKind.FAILED
        log.info("job %s: %d of %d submitted", job.id, sum(map(bool, ops)), len(ops))
        pictures = pictures.but(ops=tuple(ops), results=tuple(results))
        job = job.moved_to(
            JobState.PENDING,
            **pictures.fields(job),
            submitted_at=now if sent_at is None else sent_at,
            attempts=0,
            last_error=None,
        )
        if pictures.all_ended and images:  # drawn by a synchronous model
            async with self.places.place(job.chat_id):
                await self.handover.end(job, pictures, images, self.clock())
        elif pictures.all_ended:  # all cached or refused: nothing to wait for
            await self.handover.end(job, pictures, images)
        else:
            next_at = await self.planner.next_poll_at(job, self.clock(), 0)
            await self.writer.save(job.but(next_poll_at=next_at))

    async def _draw(
        self, backend: ImageBackend, job: Job, index: int
    ) -> Submitted | ImageReady | None:
        """The backend's answer to the picture's submit, or None when the user cancelled
        meanwhile: a synchronous drawing takes a while, so the store is asked for a Cancel
        meanwhile and once more before a picture is delivered."""
        call = asyncio.ensure_future(
            backend.submit(
                job.drawn_request,
                job.variant_seed(index),
                idempotency_key(job, index),
                time_left=job.deadline_at - self.clock(),
            )
        )
        try:
            while not (await asyncio.wait({call}, timeout=CANCEL_CHECK))[0]:
                if await self._cancel_requested(job):
                    return None
            answer = call.result()
        finally:
            if not call.done():  # cancelled by the user, or this step by a shutdown
                call.cancel()
                await asyncio.gather(call, return_exceptions=True)
        if isinstance(answer, ImageReady) and await self._cancel_requested(job):
            return None
        return answer

    async def _cancel_requested(self, job: Job) -> bool:
        with suppress(StoreUnavailable):
            stored = await self.store.get(job.id)
            return stored is not None and stored.cancel_requested
        return False

    async def _wait_for_submit_budget(self, job: Job) -> None:
        """Over the model's submit budget, wait in line and show the place in the status
        message."""
        budget = self.backends.submit_budget(job.request.model)
        if await budget.available():
            await budget.acquire()
            return
        line = self.backends.submit_line(job.request.model)
        place = await line.join(job.id)
        self.in_line[job.id] = (job, place)
        try:
            await self.delivery.status(job, place)
            await budget.acquire()
        finally:
            job = self.in_line.pop(job.id)[0]
            await line.leave(job.id)
        await self.delivery.status(job, None)

    async def status_came(self, job_id: str, message_id: int) -> None:
        """A status message that came while its job waits in line (its reply was slow, e.g.
        paced by the chat's flood limit) shows the job's place at once, not "Generating…"
        while it still waits."""
        waiting = self.in_line.get(job_id)
        if waiting is None:
            return
        job = waiting[0].but(status_message_id=message_id)
        self.in_line[job_id] = (job, waiting[1])
        await self.delivery.status(job, waiting[1])
