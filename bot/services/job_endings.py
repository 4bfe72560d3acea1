"""How a job ends without a picture (failed, expired, cancelled, given up), and how every
job ends: saved as ended, its status message cleaned up, its slot freed and its credits
settled, spent only for the pictures delivered."""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass

from bot.core.errors import BackendError, ErrorKind, StoreUnavailable
from bot.core.jobs import Job, JobState
from bot.core.pictures import Pictures
from bot.services.backends import Backends
from bot.services.job_writer import JobWriter
from bot.services.kept_pictures import KeptPictures
from bot.services.metrics import Metrics
from bot.services.quotas import Quotas
from bot.services.wallet import Wallet
from bot.storage.base import JobStore
from bot.telegram.chat_actions import ChatActions
from bot.telegram.delivery import Delivery, Outcome

log = logging.getLogger(__name__)

# When the deadline passes while Yandex keeps failing, say why instead of "timed out".
_DEADLINE_REASONS = frozenset({ErrorKind.QUOTA, ErrorKind.UNAVAILABLE})


@dataclass(frozen=True, slots=True, kw_only=True)
class Endings:
    writer: JobWriter
    store: JobStore
    backends: Backends
    delivery: Delivery
    actions: ChatActions
    metrics: Metrics
    quotas: Quotas
    kept: KeptPictures
    wallet: Wallet | None

    async def fail(self, job: Job, kind: ErrorKind, state: JobState = JobState.FAILED) -> None:
        """Tell the user why; when Telegram cannot be reached, the job stays to tell later."""
        log.info("job %s: %s (%s)", job.id, state, kind)
        outcome = await self.delivery.failure(job, kind)
        if outcome is Outcome.RETRY_LATER:
            await self.writer.save(job.but(untold_failure=kind, next_poll_at=self.writer.later()))
            return
        await self._give_back_unheard(job)
        self.metrics.failures.labels(kind=kind, model=job.request.model).inc()
        await self.writer.record(f"failed:{kind}", model=job.request.model)
        await self.finish(job.moved_to(state, untold_failure=None))

    async def cancel(self, job: Job) -> None:
        """The user's Cancel: the operations still running are cancelled at Yandex too."""
        for operation_id in Pictures.of(job).running:
            try:
                await self.backends.backend(job.request.model).cancel(operation_id)
            except BackendError as exc:
                log.info("job %s: cancelling the operation failed (%s)", job.id, exc.kind)
        await self.fail(job, ErrorKind.CANCELLED, JobState.CANCELLED)

    async def end_untold(self, job: Job) -> None:
        """Past `keep_until` (or after an error even the failure path hit): the job ends,
        so its prompt leaves the store, although its user could not be told."""
        log.warning("job %s: given up without telling its user", job.id)
        await self._give_back_unheard(job)
        self.metrics.failures.labels(
            kind=job.untold_failure or ErrorKind.TIMEOUT, model=job.request.model
        ).inc()
        await self.finish(job.moved_to(JobState.FAILED, untold_failure=None))

    async def finish(self, job: Job, delivered: int = 0) -> None:
        """End the job: saved as ended, its status message cleaned up, its slot freed and
        its credits settled (spent for the `delivered` pictures, the rest given back)."""
        self.actions.drop(job.id)
        await self.kept.drop(job)
        late_status = await self.writer.save(job)
        if job.credits and self.wallet is not None:
            await self._settle(job, delivered)
        if late_status is not None:
            # Recorded while this step held the job, which ended without knowing it.
            await self.delivery.drop_status(job.chat_id, late_status)
        with suppress(StoreUnavailable):
            await self.store.release_slot(job.user_id, job.slot)

    async def _settle(self, job: Job, delivered: int) -> None:
        """Once the job is saved as ended; if the store is down now, the hold is given back
        by itself after its time (the user is never charged for an unsettled job)."""
        assert self.wallet is not None
        try:
            await self.wallet.settle(job.user_id, job.id, delivered)
        except StoreUnavailable:
            log.warning("job %s: store unavailable, its credits come back by themselves", job.id)

    async def _give_back_unheard(self, job: Job) -> None:
        """A voice request that ends before it was heard drew nothing: its pictures of the
        day are given back."""
        if job.state is JobState.HEARING:
            await self.quotas.give_back(job.user_id, job.free_pictures)


def expiry_reason(job: Job) -> ErrorKind:
    """Why a job that ran out of time ends: when Yandex kept failing, that, not "timed out"."""
    return job.last_error if job.last_error in _DEADLINE_REASONS else ErrorKind.TIMEOUT
