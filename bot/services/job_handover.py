"""The last step of a job whose pictures have all ended: send those that were drawn (one
picture as a photo, several as an album), or the failure when none was. A picture that
finished in an earlier step is fetched again from its operation (free); one Telegram puts
off is kept, so only its delivery is tried again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.backend import ImageReady, OperationFailed
from bot.core.errors import ErrorKind
from bot.core.images import is_image
from bot.core.jobs import VARIANT_OK, Job, JobState
from bot.core.pictures import Pictures
from bot.services.job_endings import Endings
from bot.services.job_writer import JobWriter
from bot.services.kept_pictures import KeptPictures
from bot.services.metrics import Metrics
from bot.services.operation_polls import OperationPolls
from bot.storage.picture_cache import PictureCache
from bot.telegram.delivery import Delivery, Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Handover:
    delivery: Delivery
    polls: OperationPolls
    kept: KeptPictures
    endings: Endings
    writer: JobWriter
    cache: PictureCache
    metrics: Metrics
    clock: Callable[[], float]

    async def end(
        self,
        job: Job,
        pictures: Pictures,
        images: dict[int, bytes],
        finished_at: float | None = None,
        failed_as: JobState = JobState.FAILED,
    ) -> None:
        """Every picture has ended: send the survivors (`images` drawn in this step, the
        rest cached or fetched again), or the failure (as `failed_as`) when none survived.
        `finished_at`, when the last of `images` was ready, measures the delivery's lag."""
        results = list(pictures.results)
        sendable: dict[int, bytes | str] = {}
        for i, result in enumerate(results):
            if result != VARIANT_OK:
                continue
            if pictures.files[i] or i in images:
                sendable[i] = pictures.files[i] or images[i]
            elif not pictures.ops[i]:  # a synchronous model's, kept and lost by the store
                log.warning("job %s: kept picture lost, not drawing it again", job.id)
                results[i] = ErrorKind.UNDELIVERED
            else:
                fetched = await self._fetch_again(job, pictures.ops[i])
                if fetched is None:  # Yandex keeps the result: fetch it on the next try
                    await self.writer.save(pictures.into(job).but(next_poll_at=self.writer.later()))
                    return
                if isinstance(fetched, bytes):
                    sendable[i] = fetched
                else:
                    results[i] = fetched
        pictures = pictures.but(results=tuple(results))
        job = pictures.into(job)
        if not sendable:
            await self.endings.fail(job, pictures.first_failure(), failed_as)
            return
        outcome, file_ids = await self._send(job, sendable)
        drawn = {i: p for i, p in sendable.items() if isinstance(p, bytes)}
        if await self._not_delivered(job, pictures, outcome, drawn):
            return
        lag = None
        if outcome is Outcome.SENT and finished_at is not None:
            lag = max(0.0, self.clock() - finished_at)
            self.metrics.delivery_lag.observe(lag)
        await self.writer.record(f"delivered:{outcome}", lag, model=job.request.model)
        if not job.request.enhance:
            for i, file_id in file_ids.items():
                if not pictures.files[i]:
                    await self.cache.remember(job, file_id, variant=i)
        self.metrics.deliveries.labels(outcome=outcome, model=job.request.model).inc()
        log.info("job %s: %d of %d pictures %s", job.id, len(sendable), len(results), outcome)
        sent = len(sendable) if outcome is Outcome.SENT else 0
        await self.endings.finish(job.moved_to(JobState.DONE), sent)

    async def _fetch_again(self, job: Job, operation_id: str) -> bytes | ErrorKind | None:
        """A picture that finished in an earlier step, from its operation; how it ended when
        that fails; None to try again on the next step."""
        log.info("job %s: fetching a picture again from its operation", job.id)
        state = await self.polls.once(job, operation_id)
        if isinstance(state, ImageReady) and not is_image(state.image):
            return ErrorKind.FAILED
        if isinstance(state, ImageReady):
            return state.image
        if isinstance(state, OperationFailed):
            return state.error.kind
        if self.clock() >= job.deadline_at:
            return state if isinstance(state, ErrorKind) else ErrorKind.TIMEOUT
        return None

    async def _send(
        self, job: Job, pictures: dict[int, bytes | str]
    ) -> tuple[Outcome, dict[int, str]]:
        """A single picture as a photo (a cached one is the job's own file), an album's
        survivors as an album; with the Telegram files sent, by index, for the cache."""
        if job.is_album:
            album = await self.delivery.album(job, pictures)
            return album.outcome, album.file_ids
        image = pictures.get(0)
        delivered = await self.delivery.picture(job, image if isinstance(image, bytes) else None)
        return delivered.outcome, {} if delivered.file_id is None else {0: delivered.file_id}

    async def _not_delivered(
        self, job: Job, pictures: Pictures, outcome: Outcome, drawn: dict[int, bytes]
    ) -> bool:
        """Settle a delivery that did not reach the user: put off until later, or failed at
        the deadline or when Telegram refused it. False when it was delivered (sent, or the
        chat is gone)."""
        if outcome is Outcome.RETRY_LATER and self.clock() >= job.deadline_at:
            await self.endings.fail(job, ErrorKind.UNDELIVERED)
        elif outcome is Outcome.RETRY_LATER:
            await self._put_off(job, pictures, drawn)
        elif outcome is Outcome.REFUSED:
            await self.endings.fail(job, ErrorKind.REFUSED)
        else:
            return False
        return True

    async def _put_off(self, job: Job, pictures: Pictures, drawn: dict[int, bytes]) -> None:
        """Keep the `drawn` pictures for the next try. What cannot be kept (over the size
        cap) is fetched again from its operation; a synchronous model's picture that cannot
        be kept fails the job, told: it is never drawn again."""
        if not job.kept and drawn:
            if await self.kept.keep(job, drawn):
                job = job.but(kept=True)
            elif not all(pictures.ops[i] for i in drawn):
                log.warning("job %s: picture too large to keep for a later delivery", job.id)
                await self.endings.fail(job, ErrorKind.UNDELIVERED)
                return
        await self.writer.save(job.but(next_poll_at=self.writer.later()))
