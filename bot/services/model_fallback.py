"""A single picture's way around a model Yandex refuses, or whose operations stall far past
what it has ever taken: the model is set aside for every instance and the job is handed to
the next model that can draw it, submitted anew. An Original is that picture or nothing,
and an album's variants stay with their model."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from bot.core.errors import BackendError, ErrorKind
from bot.core.jobs import Job, JobState, new_idempotency_key
from bot.core.models import NoModel
from bot.services.availability import ModelAvailability
from bot.services.backends import Backends
from bot.services.job_endings import Endings
from bot.services.job_writer import JobWriter
from bot.telegram.delivery import Delivery

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelFallback:
    availability: ModelAvailability
    backends: Backends
    delivery: Delivery
    endings: Endings
    writer: JobWriter
    clock: Callable[[], float]

    async def refused(self, job: Job, message: str, kind: ErrorKind) -> None:
        """Yandex refused the job's model, or it stalls: set it aside and hand the job to
        the next model that can draw it, submitted anew; with none left, the user hears
        `kind` (a model refused on every side is the operator's to fix)."""
        await self.availability.refused(job.request.model, message)
        request = await self.availability.reroute(job.request)
        if isinstance(request, NoModel) or job.source_id is not None:
            await self.endings.fail(job, kind)
            return
        log.info(
            "job %s: model %s set aside, drawn by %s", job.id, job.request.model, request.model
        )
        if job.state is JobState.PENDING:
            job = job.moved_to(JobState.SUBMITTED)
        job = job.but(
            request=request,
            operation_id=None,
            submitted_at=None,
            idempotency_key=new_idempotency_key(),
            attempts=0,
            next_poll_at=self.clock(),
        )
        await self.delivery.status(job, None)  # names the model that draws it now, and why
        await self.writer.save(job)

    async def stalled(self, job: Job) -> bool:
        """Whether the job's operation has stayed unfinished far past what its model has
        ever taken (then the model is set aside and the job moves on)."""
        if job.submitted_at is None or job.source_id is not None:
            return False
        waited = self.clock() - job.submitted_at
        model, ratio = job.request.model, str(job.request.ratio)
        limit = await self.availability.stall_after(model, ratio, waited)
        if limit is None or waited < limit:
            return False
        assert job.operation_id is not None
        with suppress(BackendError):
            await self.backends.backend(job.request.model).cancel(job.operation_id)
        message = f"operations stay unfinished for over {limit:.0f} s"
        await self.refused(job, message, ErrorKind.UNAVAILABLE)
        return True
