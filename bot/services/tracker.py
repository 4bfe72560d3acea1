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

from bot.core.backend import ImageBackend, ImageReady, OperationFailed, OperationState, Submitted
from bot.core.budget import Budget
from bot.core.errors import BackendError, ErrorKind, StoreUnavailable, TransientBackendError
from bot.core.images import is_image
from bot.core.jobs import (
    VARIANT_OK,
    Job,
    JobState,
    new_idempotency_key,
    variant_idempotency_key,
)
from bot.core.limits import day_of
from bot.core.models import NoModel
from bot.services.availability import ModelAvailability
from bot.services.backends import Backends
from bot.services.metrics import Metrics
from bot.services.places import PicturePlaces
from bot.services.planner import PollPlanner
from bot.services.quotas import Quotas
from bot.services.wallet import Wallet
from bot.storage.base import JobStore, LeaseLost
from bot.storage.picture_cache import PictureCache
from bot.telegram.chat_actions import ChatActions
from bot.telegram.delivery import Delivery, Outcome
from bot.yandex.enhancer import PromptEnhancer
from bot.yandex.errors import ModelRefused, OperationNotFound

log = logging.getLogger(__name__)

# When the deadline passes while Yandex keeps failing, say why instead of "timed out".
_DEADLINE_REASONS = frozenset({ErrorKind.QUOTA, ErrorKind.UNAVAILABLE})
STORE_RETRY_MAX = 5.0
# A job whose steps fail this many times with an unexpected error is failed with a message.
STEP_ERRORS_MAX = 3
# A job whose chat holds its share of picture places is polled again this much later.
CHAT_BUSY_WAIT = 2.0
# While a submit (a synchronous drawing) takes longer, ask the store this often for a Cancel.
CANCEL_CHECK = 1.0


# At shutdown, how long telling a user that their voice was not heard may take.
TELL_AT_SHUTDOWN = 3.0


class Hearer(Protocol):
    """Hears a voice request (bot/services/voice.py)."""

    async def hear(self, job: Job) -> Job | None:
        """The request the voice names, as a job to draw (same id); None when it names
        none and its user has been told why."""

    async def interrupted(self, job: Job) -> None:
        """Tell the user the bot stopped while hearing; give back what admission counted."""


def model_event(model: str, event: str) -> str:
    """The daily counter of `event` for one model (/stats per model)."""
    return f"model:{model}:{event}"


def expiry_reason(job: Job) -> ErrorKind:
    return job.last_error if job.last_error in _DEADLINE_REASONS else ErrorKind.TIMEOUT


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
        self._wallet = wallet
        self._store = store
        self._backends = backends
        self._delivery = delivery
        self._actions = actions
        self._planner = planner
        self._schedule = planner.schedule
        self._metrics = metrics
        self._cache = cache
        self._enhancer = enhancer
        self._poll_budget = poll_budget
        self._submit_patience = submit_patience
        self._quotas = quotas
        self._availability = availability
        self._clock = clock
        self._max_in_flight = max_in_flight
        self._pictures = pictures or PicturePlaces()
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
                await self._finish(job.moved_to(JobState.FAILED))
        except (TimeoutError, StoreUnavailable):
            log.warning("job %s: voice interrupted by shutdown, not ended", job.id)

    async def _after_error(self, job: Job) -> None:
        """A bounded retry of a step that failed unexpectedly; then the user is told."""
        job = job.but(step_errors=job.step_errors + 1)
        if job.step_errors < STEP_ERRORS_MAX and self._clock() < job.deadline_at:
            await self._save(job.but(next_poll_at=self._later()))
            return
        try:
            await self._fail(job, ErrorKind.INTERNAL)
        except StoreUnavailable:
            log.warning("job %s: store unavailable while failing it, will resume", job.id)
        except Exception:
            log.exception("job %s: cannot even fail, ending it untold", job.id)
            await self._end_untold(job)

    async def _advance(self, job: Job) -> None:
        self._show_progress(job)
        if self._clock() >= job.keep_until:
            await self._end_untold(job)
        elif job.cancel_requested:
            await self._cancel(job)
        elif job.untold_failure is not None:
            await self._fail(job, job.untold_failure)
        elif job.request.model not in self._backends:
            log.warning("job %s: unknown model, dropped", job.id)
            await self._fail(job, ErrorKind.BAD_REQUEST)
        elif job.state is JobState.HEARING:
            await self._hear(job)
        elif job.is_album:
            await self._advance_album(job)
        elif job.kept:
            async with self._pictures.place(job.chat_id):
                await self._deliver_kept(job)
        elif job.cached_file_id is not None:
            await self._deliver(job, None, None)
        elif job.state is JobState.SUBMITTED:
            await self._submit(job)
        elif self._pictures.chat_full(job.chat_id) and self._clock() >= job.deadline_at:
            await self._fail(job, expiry_reason(job), JobState.EXPIRED)
        elif self._pictures.chat_full(job.chat_id):
            await self._save(job.but(next_poll_at=self._clock() + CHAT_BUSY_WAIT))
        elif (later := await self._planner.recheck(job, self._clock())) is not None:
            await self._save(job.but(next_poll_at=later))
        else:
            # A place for the picture the poll may bring, kept until it is delivered: polls
            # wait for deliveries rather than pictures piling up in memory.
            async with self._pictures.place(job.chat_id):
                await self._poll(job)

    async def _hear(self, job: Job) -> None:
        """Recognise a voice request; what it names is saved to be drawn at once."""
        if self.hearer is None:  # voice prompts turned off since it was admitted
            await self._fail(job, ErrorKind.BAD_REQUEST)
            return
        heard = await self.hearer.hear(job)
        if heard is None:
            await self._finish(job.moved_to(JobState.FAILED))
            return
        log.info("job %s: heard", job.id)
        await self._save(heard.but(next_poll_at=self._clock()))
        self._wakeup.set()

    async def _submit(self, job: Job) -> None:
        now = self._clock()
        if now >= job.deadline_at:
            await self._fail(job, expiry_reason(job), JobState.EXPIRED)
            return
        request = await self._availability.reroute(job.request)
        # An Original is that picture or nothing: never drawn by another model.
        if isinstance(request, NoModel) or (
            job.source_id is not None and request.model != job.request.model
        ):
            await self._fail(job, ErrorKind.NO_MODEL)
            return
        job = job.but(request=request)
        if job.needs_enhancing:
            enhanced = await self._enhancer.enhance(job.request.text, job.locale)
            job = job.but(enhanced_prompt=enhanced, enhance_failed=enhanced is None)
        await self._wait_for_submit_budget(job)
        # The generation starts now, not when the step began: the wait in line for the
        # budget (seconds in a burst) is not part of how long Yandex takes.
        sent_at = self._clock()
        try:
            answer = await self._draw(self._backends.backend(job.request.model), job)
        except TransientBackendError as exc:
            if now - job.created_at >= self._submit_patience:
                await self._fail(job, exc.kind)
                return
            log.info("job %s: submit failed (%s), will retry", job.id, exc.kind)
            await self._save(
                job.but(
                    attempts=job.attempts + 1,
                    last_error=exc.kind,
                    next_poll_at=self._schedule.next_poll_at(now, job.attempts, job.deadline_at),
                )
            )
            return
        except ModelRefused as exc:
            await self._model_refused(job, exc.message, exc.kind)
            return
        except BackendError as exc:
            await self._fail(job, exc.kind)
            return
        if answer is None:
            await self._fail(job, ErrorKind.CANCELLED, JobState.CANCELLED)
            return
        await self._availability.answered(job.request.model)
        self._metrics.submits.labels(model=job.request.model).inc()
        await self._record("submitted", model=job.request.model)
        if isinstance(answer, ImageReady):
            # Nothing to come back to: a delivery put off until later keeps the picture.
            log.info("job %s: drawn", job.id)
            async with self._pictures.place(job.chat_id):
                await self._deliver_result(job, answer.image, self._clock())
            return
        log.info("job %s: submitted as operation %s", job.id, answer.operation_id)
        job = job.moved_to(
            JobState.PENDING,
            operation_id=answer.operation_id,
            submitted_at=sent_at,
            attempts=0,
            last_error=None,
        )
        next_at = await self._planner.next_poll_at(job, self._clock(), 0)
        await self._save(job.but(next_poll_at=next_at))

    async def _model_refused(self, job: Job, message: str, kind: ErrorKind) -> None:
        """Yandex refused the job's model, or it stalls: set it aside and hand the job to
        the next model that can draw it, submitted anew; with none left, the user hears
        `kind` (a model refused on every side is the operator's to fix)."""
        await self._availability.refused(job.request.model, message)
        request = await self._availability.reroute(job.request)
        if isinstance(request, NoModel) or job.source_id is not None:
            await self._fail(job, kind)
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
            next_poll_at=self._clock(),
        )
        await self._delivery.status(job, None)  # names the model that draws it now, and why
        await self._save(job)

    async def _stalled(self, job: Job) -> bool:
        """Whether the job's operation has stayed unfinished far past what its model has
        ever taken (then the model is set aside and the job moves on)."""
        if job.submitted_at is None or job.source_id is not None:
            return False
        waited = self._clock() - job.submitted_at
        model, ratio = job.request.model, str(job.request.ratio)
        limit = await self._availability.stall_after(model, ratio, waited)
        if limit is None or waited < limit:
            return False
        assert job.operation_id is not None
        with suppress(BackendError):
            await self._backends.backend(job.request.model).cancel(job.operation_id)
        message = f"operations stay unfinished for over {limit:.0f} s"
        await self._model_refused(job, message, ErrorKind.UNAVAILABLE)
        return True

    async def _draw(self, backend: ImageBackend, job: Job) -> Submitted | ImageReady | None:
        """The backend's answer to the submit, or None when the user cancelled meanwhile:
        a synchronous drawing takes a while, so the store is asked for a Cancel meanwhile
        and once more before a picture is delivered."""
        call = asyncio.ensure_future(
            backend.submit(
                job.drawn_request,
                job.seed,
                job.idempotency_key,
                time_left=job.deadline_at - self._clock(),
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
            stored = await self._store.get(job.id)
            return stored is not None and stored.cancel_requested
        return False

    async def _deliver_result(self, job: Job, image: bytes, finished_at: float | None) -> None:
        """Deliver what a model answered, once it is known to be a picture."""
        if not is_image(image):
            log.warning("job %s: the result is not a JPEG, PNG or WebP image", job.id)
            await self._fail(job, ErrorKind.FAILED)
            return
        await self._deliver(job, image, finished_at)

    async def _poll(self, job: Job) -> None:
        assert job.operation_id is not None
        last_error = job.last_error
        state: OperationState | None = None
        await self._poll_budget.acquire()
        self._metrics.polls.inc()
        try:
            state = await self._backends.backend(job.request.model).get_operation(job.operation_id)
        except TransientBackendError as exc:
            last_error = exc.kind
        except BackendError as exc:
            state = OperationFailed(exc)
        if isinstance(state, ImageReady):
            await self._planner.observe(job, state.finished_at)
            await self._deliver_result(job, state.image, state.finished_at)
        elif (
            isinstance(state, OperationFailed)
            and isinstance(state.error, OperationNotFound)
            and job.source_id is not None
            and not job.regenerated
        ):
            await self._regenerate(job)
        elif isinstance(state, OperationFailed):
            await self._fail(job, state.error.kind)
        elif self._clock() >= job.deadline_at:
            await self._fail(job.but(last_error=last_error), expiry_reason(job), JobState.EXPIRED)
        elif state is not None and await self._stalled(job):
            return
        else:
            attempts = job.attempts + 1
            next_at = await self._planner.next_poll_at(job, self._clock(), attempts)
            await self._save(
                job.but(attempts=attempts, last_error=last_error, next_poll_at=next_at)
            )

    async def _regenerate(self, job: Job) -> None:
        """An Original asked for after Yandex dropped the result: draw it again with the
        same seed, once (a failed operation is never submitted again), counted against the
        user's daily quota like any generation."""
        refusal = await self._quotas.charge(job.user_id)
        if refusal is not None:
            await self._fail(job, ErrorKind.DAILY_LIMIT)
            return
        log.info("job %s: operation gone, generating the original again", job.id)
        await self._save(
            job.moved_to(
                JobState.SUBMITTED,
                operation_id=None,
                idempotency_key=new_idempotency_key(),
                attempts=0,
                next_poll_at=self._clock(),
            )
        )

    async def _not_delivered(
        self, job: Job, outcome: Outcome, images: dict[int, bytes] | None = None
    ) -> bool:
        """Settle a delivery that did not reach the user: put off until later (the drawn
        `images` are kept in the store, so only the delivery is tried again), or failed at
        the deadline or when Telegram refused it. False when it was delivered (sent, or the
        chat is gone)."""
        if outcome is Outcome.RETRY_LATER and self._clock() >= job.deadline_at:
            await self._fail(job, ErrorKind.UNDELIVERED)
        elif outcome is Outcome.RETRY_LATER:
            kept = await self._keep(job, images or {})
            if kept is not None:
                await self._save(kept.but(next_poll_at=self._later()))
        elif outcome is Outcome.REFUSED:
            await self._fail(job, ErrorKind.REFUSED)
        else:
            return False
        return True

    async def _keep(self, job: Job, images: dict[int, bytes]) -> Job | None:
        """The job with its drawn pictures kept for a later delivery. What cannot be kept
        (over the size cap) is fetched again from a Yandex operation, never drawn again: a
        synchronous model's picture that cannot be kept fails the job (None), told."""
        if job.kept or not images:
            return job
        ttl = max(job.keep_until - self._clock(), 1.0)
        kept = [
            await self._store.keep_picture(job.id, i, image, ttl) for i, image in images.items()
        ]
        if any(kept):
            return job.but(kept=True)
        if job.operation_id is None and not job.is_album:
            log.warning("job %s: picture too large to keep for a later delivery", job.id)
            await self._fail(job, ErrorKind.UNDELIVERED)
            return None
        return job

    async def _deliver_kept(self, job: Job) -> None:
        """Deliver a picture kept after a delivery was put off: never drawn again; when it
        is gone (the store lost it), fetched again from its operation, or the job fails."""
        image = await self._store.kept_picture(job.id, 0)
        if image is not None:
            await self._deliver(job, image, None)
        elif job.operation_id is not None and job.state is JobState.PENDING:
            log.warning("job %s: kept picture lost, fetching it again", job.id)
            await self._poll(job.but(kept=False))
        else:
            log.warning("job %s: kept picture lost, not drawing it again", job.id)
            await self._fail(job, ErrorKind.UNDELIVERED)

    async def _deliver(self, job: Job, image: bytes | None, finished_at: float | None) -> None:
        delivered = await self._delivery.picture(job, image)
        if await self._not_delivered(job, delivered.outcome, {0: image} if image else None):
            return
        lag = None
        if delivered.outcome is Outcome.SENT and finished_at is not None:
            lag = max(0.0, self._clock() - finished_at)
            self._metrics.delivery_lag.observe(lag)
        await self._record(f"delivered:{delivered.outcome}", lag, model=job.request.model)
        if delivered.file_id is not None and job.cached_file_id is None and not job.request.enhance:
            await self._cache.remember(job, delivered.file_id)
        self._metrics.deliveries.labels(outcome=delivered.outcome, model=job.request.model).inc()
        log.info("job %s: picture %s", job.id, delivered.outcome)
        await self._finish(job.moved_to(JobState.DONE), int(delivered.outcome is Outcome.SENT))

    async def _cancel(self, job: Job) -> None:
        running = [op for op, r in zip(job.variant_ops, job.variant_results, strict=True) if not r]
        for operation_id in filter(None, [job.operation_id, *running]):
            try:
                await self._backends.backend(job.request.model).cancel(operation_id)
            except BackendError as exc:
                log.info("job %s: cancelling the operation failed (%s)", job.id, exc.kind)
        await self._fail(job, ErrorKind.CANCELLED, JobState.CANCELLED)

    async def _fail(self, job: Job, kind: ErrorKind, state: JobState = JobState.FAILED) -> None:
        log.info("job %s: %s (%s)", job.id, state, kind)
        outcome = await self._delivery.failure(job, kind)
        if outcome is Outcome.RETRY_LATER:
            await self._save(job.but(untold_failure=kind, next_poll_at=self._later()))
            return
        await self._give_back_unheard(job)
        self._metrics.failures.labels(kind=kind, model=job.request.model).inc()
        await self._record(f"failed:{kind}", model=job.request.model)
        await self._finish(job.moved_to(state, untold_failure=None))

    async def _give_back_unheard(self, job: Job) -> None:
        """A voice request that ends before it was heard drew nothing: its pictures of the
        day are given back."""
        if job.state is JobState.HEARING:
            await self._quotas.give_back(job.user_id, job.free_pictures)

    async def _finish(self, job: Job, delivered: int = 0) -> None:
        """End the job: saved as ended, its status message cleaned up, its slot freed and
        its credits settled (spent for the `delivered` pictures, the rest given back)."""
        self._actions.drop(job.id)
        if job.kept:
            with suppress(StoreUnavailable):  # they expire at `keep_until` anyway
                await self._store.drop_pictures(job.id, range(max(job.request.variants, 1)))
        late_status = await self._save(job)
        if job.credits and self._wallet is not None:
            await self._settle(job, delivered)
        if late_status is not None:
            # Recorded while this step held the job, which ended without knowing it.
            await self._delivery.drop_status(job.chat_id, late_status)
        with suppress(StoreUnavailable):
            await self._store.release_slot(job.user_id, job.slot)

    async def _settle(self, job: Job, delivered: int) -> None:
        """Once the job is saved as ended; if the store is down now, the hold is given back
        by itself after its time (the user is never charged for an unsettled job)."""
        assert self._wallet is not None
        try:
            await self._wallet.settle(job.user_id, job.id, delivered)
        except StoreUnavailable:
            log.warning("job %s: store unavailable, its credits come back by themselves", job.id)

    async def _end_untold(self, job: Job) -> None:
        """Past `keep_until` (or after an error even the failure path hit): the job ends,
        so its prompt leaves the store, although its user could not be told."""
        log.warning("job %s: given up without telling its user", job.id)
        await self._give_back_unheard(job)
        self._metrics.failures.labels(
            kind=job.untold_failure or ErrorKind.TIMEOUT, model=job.request.model
        ).inc()
        await self._finish(job.moved_to(JobState.FAILED, untold_failure=None))

    # --- albums: the variants of one request, one operation each -------------------------

    async def _advance_album(self, job: Job) -> None:
        if not self._backends.capabilities[job.request.model].variants:
            # The parser refuses `--n` for such a model; a job from an older version is not
            # drawn as something it cannot be.
            log.warning("job %s: the model draws no variants, dropped", job.id)
            await self._fail(job, ErrorKind.BAD_REQUEST)
        elif job.kept:
            async with self._pictures.place(job.chat_id):
                await self._end_album(job, await self._kept_images(job))
        elif job.state is JobState.SUBMITTED:
            await self._submit_album(job)
        elif self._pictures.chat_full(job.chat_id) and self._clock() >= job.deadline_at:
            await self._fail(job, expiry_reason(job), JobState.EXPIRED)
        elif self._pictures.chat_full(job.chat_id):
            await self._save(job.but(next_poll_at=self._clock() + CHAT_BUSY_WAIT))
        else:
            async with self._pictures.place(job.chat_id):
                await self._poll_album(job)

    async def _submit_album(self, job: Job) -> None:
        """Submit every variant not submitted (nor cached) yet; each has its own seed and
        idempotency key, so a retry after a crash or a refused submit starts nothing twice."""
        now = self._clock()
        if now >= job.deadline_at:
            await self._fail(job, expiry_reason(job), JobState.EXPIRED)
            return
        if job.needs_enhancing:
            enhanced = await self._enhancer.enhance(job.request.text, job.locale)
            job = job.but(enhanced_prompt=enhanced, enhance_failed=enhanced is None)
        ops, results = list(job.variant_ops), list(job.variant_results)
        # As for one picture: the generation starts when the first submit is sent, not
        # when the step began (the wait in line for the budget is not Yandex's time).
        sent_at: float | None = None
        for i in range(job.request.variants):
            if ops[i] or results[i]:
                continue
            await self._wait_for_submit_budget(job)
            sent_at = self._clock() if sent_at is None else sent_at
            try:
                answer = await self._backends.backend(job.request.model).submit(
                    job.drawn_request,
                    job.variant_seed(i),
                    variant_idempotency_key(job.idempotency_key, i),
                    time_left=job.deadline_at - self._clock(),
                )
            except TransientBackendError as exc:
                if now - job.created_at >= self._submit_patience:
                    results[i] = exc.kind
                    continue
                log.info("job %s: submit failed (%s), will retry", job.id, exc.kind)
                next_at = self._schedule.next_poll_at(now, job.attempts, job.deadline_at)
                await self._save(
                    job.but(
                        variant_ops=tuple(ops),
                        variant_results=tuple(results),
                        attempts=job.attempts + 1,
                        last_error=exc.kind,
                        next_poll_at=next_at,
                    )
                )
                return
            except BackendError as exc:
                if isinstance(exc, ModelRefused):
                    await self._availability.refused(job.request.model, exc.message)
                results[i] = exc.kind
                continue
            # Models with variants answer with operations (checked in `_advance_album`).
            assert isinstance(answer, Submitted)
            ops[i] = answer.operation_id
            self._metrics.submits.labels(model=job.request.model).inc()
            await self._record("submitted", model=job.request.model)
        log.info("job %s: %d variants submitted", job.id, sum(map(bool, ops)))
        job = job.moved_to(
            JobState.PENDING,
            variant_ops=tuple(ops),
            variant_results=tuple(results),
            submitted_at=now if sent_at is None else sent_at,
            attempts=0,
            last_error=None,
        )
        if all(results):  # all cached or refused: nothing to wait for
            await self._end_album(job, {})
            return
        await self._save(job.but(next_poll_at=await self._planner.next_poll_at(job, now, 0)))

    async def _poll_album(self, job: Job) -> None:
        """Poll the variants still running; show how many have ended; when all have, or the
        deadline passed, send what there is."""
        results, images = list(job.variant_results), {}
        last_error = job.last_error
        for i, operation_id in enumerate(job.variant_ops):
            if results[i] or not operation_id:
                continue
            state = await self._poll_once(job, operation_id)
            if isinstance(state, ImageReady) and not is_image(state.image):
                log.warning("job %s: variant %d is not a JPEG, PNG or WebP image", job.id, i)
                results[i] = ErrorKind.FAILED
            elif isinstance(state, ImageReady):
                await self._planner.observe(job, state.finished_at)
                results[i], images[i] = VARIANT_OK, state.image
            elif isinstance(state, OperationFailed):
                results[i] = state.error.kind
            elif isinstance(state, ErrorKind):
                last_error = state
        ended_before = sum(map(bool, job.variant_results))
        job = job.but(variant_results=tuple(results), last_error=last_error)
        if not all(results) and self._clock() >= job.deadline_at:
            late = expiry_reason(job)
            job = job.but(variant_results=tuple(r or late for r in results))
        if all(job.variant_results):
            await self._end_album(job, images)
            return
        ended = sum(map(bool, results))
        if ended > ended_before:
            await self._delivery.progress(job, ended)
        attempts = job.attempts + 1
        next_at = await self._planner.next_poll_at(job, self._clock(), attempts)
        await self._save(job.but(attempts=attempts, next_poll_at=next_at))

    async def _poll_once(self, job: Job, operation_id: str) -> OperationState | ErrorKind:
        """One rate-limited poll; a transient error is its kind, to poll again later."""
        await self._poll_budget.acquire()
        self._metrics.polls.inc()
        try:
            return await self._backends.backend(job.request.model).get_operation(operation_id)
        except TransientBackendError as exc:
            return exc.kind
        except BackendError as exc:
            return OperationFailed(exc)

    async def _kept_images(self, job: Job) -> dict[int, bytes]:
        """An album's pictures kept after its delivery was put off (those lost are fetched
        again from their operations by `_end_album`)."""
        images = {}
        for i, result in enumerate(job.variant_results):
            if result == VARIANT_OK and not job.variant_files[i]:
                image = await self._store.kept_picture(job.id, i)
                if image is not None:
                    images[i] = image
        return images

    async def _end_album(self, job: Job, images: dict[int, bytes]) -> None:
        """Every variant has ended: send the survivors (fetching again from Yandex those that
        finished in earlier steps), or the failure when none survived."""
        results = list(job.variant_results)
        pictures: dict[int, bytes | str] = {}
        for i, result in enumerate(results):
            if result != VARIANT_OK:
                continue
            if job.variant_files[i]:
                pictures[i] = job.variant_files[i]
            elif i in images:
                pictures[i] = images[i]
            else:
                state = await self._poll_once(job, job.variant_ops[i])
                if isinstance(state, ImageReady) and not is_image(state.image):
                    results[i] = ErrorKind.FAILED
                elif isinstance(state, ImageReady):
                    pictures[i] = state.image
                elif isinstance(state, OperationFailed):
                    results[i] = state.error.kind
                elif self._clock() >= job.deadline_at:
                    results[i] = state if isinstance(state, ErrorKind) else ErrorKind.TIMEOUT
                else:  # Yandex keeps the result: fetch it on the next try
                    await self._save(job.but(next_poll_at=self._later()))
                    return
        job = job.but(variant_results=tuple(results))
        if not pictures:
            await self._fail(job, ErrorKind(next(r for r in results if r != VARIANT_OK)))
            return
        delivered = await self._delivery.album(job, pictures)
        drawn = {i: p for i, p in pictures.items() if isinstance(p, bytes)}
        if await self._not_delivered(job, delivered.outcome, drawn):
            return
        await self._record(f"delivered:{delivered.outcome}", model=job.request.model)
        if not job.request.enhance:
            for i, file_id in delivered.file_ids.items():
                if not job.variant_files[i]:
                    await self._cache.remember(job, file_id, variant=i)
        self._metrics.deliveries.labels(outcome=delivered.outcome, model=job.request.model).inc()
        log.info("job %s: album of %d %s", job.id, len(pictures), delivered.outcome)
        sent = len(pictures) if delivered.outcome is Outcome.SENT else 0
        await self._finish(job.moved_to(JobState.DONE), sent)

    async def _wait_for_submit_budget(self, job: Job) -> None:
        """Over the model's submit budget, wait in line and show the place in the status
        message."""
        budget = self._backends.submit_budget(job.request.model)
        if await budget.available():
            await budget.acquire()
            return
        line = self._backends.submit_line(job.request.model)
        try:
            await self._delivery.status(job, await line.join(job.id))
            await budget.acquire()
        finally:
            await line.leave(job.id)
        await self._delivery.status(job, None)

    async def _record(self, event: str, lag: float | None = None, *, model: str) -> None:
        """Daily figures for /stats, in total and per model; losing one to a store outage
        is harmless."""
        day = day_of(self._clock())
        with suppress(StoreUnavailable):
            await self._store.record(day, event, lag)
            await self._store.record(day, model_event(model, event))

    async def _save(self, job: Job) -> int | None:
        """Write the step's result; wait out a store outage rather than lose it. Returns
        a status message recorded meanwhile that `job` does not carry. A job whose group
        became a supergroup is saved under the new chat id."""
        job = job.but(chat_id=self._delivery.chat_of(job.chat_id))
        delay = 0.1
        while True:
            try:
                return await self._store.save(job)
            except LeaseLost:
                log.warning("job %s: lease lost, another instance has it", job.id)
                return None
            except StoreUnavailable:
                if self._stopping:
                    log.error("job %s: store unavailable at shutdown, step not saved", job.id)
                    return None
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, STORE_RETRY_MAX)

    def _show_progress(self, job: Job) -> None:
        """ "Sending a photo…" in the chat that waits; an inline message has its own text."""
        if job.inline_message_id is None and job.state is not JobState.HEARING:
            self._actions.keep(job.id, job.chat_id)

    def _later(self) -> float:
        return self._clock() + self._schedule.max_interval


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
