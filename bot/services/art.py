"""What the bot does for a request once it is parsed: jobs for /art, inline results and
the buttons under pictures. Handlers call this and only talk to Telegram."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import random
import secrets
import time
from collections.abc import Callable
from enum import StrEnum

from bot.core.history import HistoryEntry
from bot.core.jobs import VARIANT_OK, Job, JobState
from bot.core.limits import Refusal
from bot.core.prompt import ArtRequest, Limits, parse_art_args
from bot.core.styles import BUILTIN, StyleCatalog
from bot.services.backends import Backends
from bot.services.history import HistoryService
from bot.services.prefs import PrefsService
from bot.services.quotas import Quotas
from bot.services.tracker import Tracker
from bot.storage.base import JobStore
from bot.storage.picture_cache import PictureCache

# How long a stored job waits for its status message before it runs without one.
STATUS_GRACE = 2.0
# Seeds the bot picks are short enough to retype, yet give 4 billion pictures per prompt.
PICKED_SEED_MAX = 2**32 - 1


class CancelResult(StrEnum):
    CANCELLING = "cancelling"
    NOT_YOURS = "not_yours"
    STALE = "stale"


class ArtService:
    def __init__(
        self,
        *,
        tracker: Tracker,
        store: JobStore,
        cache: PictureCache,
        quotas: Quotas,
        prefs: PrefsService,
        history: HistoryService,
        limits: Limits,
        backends: Backends,
        deadline: float,
        upload_chat: Callable[[int], int],
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        styles: StyleCatalog = BUILTIN,
    ) -> None:
        self._tracker = tracker
        self.styles = styles
        self._store = store
        self._cache = cache
        self._quotas = quotas
        self._prefs = prefs
        self._history = history
        self.limits = limits
        self.backends = backends
        self._deadline = deadline
        self._upload_chat = upload_chat
        self._clock = clock
        self._rng = rng or random.SystemRandom()

    async def parse(
        self, user_id: int, args: str | None, replied_text: str | None = None
    ) -> ArtRequest:
        """The request, with the user's /settings where no flag says otherwise."""
        offered = self.backends.offered
        prefs = await self._prefs.get(user_id)
        defaults = prefs.defaults_among(offered, self.backends.default)
        return parse_art_args(args, self.limits, replied_text, defaults, self.styles, offered)

    async def admit(self, job: Job) -> Refusal | None:
        """Count the job against its user's limits (each variant is a picture of the day);
        a refusal says which and until when."""
        return await self._quotas.admit(job.user_id, job.id, job.request.variants)

    def pick_seed(self, request: ArtRequest) -> int:
        return self._rng.randint(1, PICKED_SEED_MAX) if request.seed is None else request.seed

    def new_job(
        self,
        request: ArtRequest,
        *,
        chat_id: int,
        user_id: int,
        locale: str,
        reply_to_message_id: int | None = None,
        seed: int | None = None,
        job_id: str | None = None,
    ) -> Job:
        """A job ready to show to the user; the seed is fixed now so the status can name it."""
        now = self._clock()
        unset = ("",) * request.variants if request.variants > 1 else ()
        return Job(
            variant_ops=unset,
            variant_results=unset,
            variant_files=unset,
            id=job_id or new_job_id(),
            chat_id=chat_id,
            user_id=user_id,
            locale=locale,
            request=request,
            seed=self.pick_seed(request) if seed is None else seed,
            idempotency_key=secrets.token_hex(16),
            created_at=now,
            deadline_at=now + self._deadline,
            next_poll_at=now,
            reply_to_message_id=reply_to_message_id,
        )

    async def start(self, job: Job, *, status_grace: float = 0.0) -> Job | None:
        """Store the job for the tracker; a request with the user's own seed that was drawn
        before is answered from Telegram's copy, without Yandex. None when the job is known
        already: its update came twice and the first one is being answered.

        With `status_grace` the job waits that long for `attach_status`: the job is stored
        before the status message is sent, so neither a crash nor a lost answer from
        Telegram in between can leave a request behind; if the status never arrives the
        job just runs without one."""
        if job.is_album and job.request.seed is not None and not job.request.enhance:
            job = await self._cached_variants(job)
        elif job.request.seed is not None and not job.request.enhance:
            cached = await self._cache.lookup(job.request, job.seed)
            if cached is not None:
                job = job.moved_to(
                    JobState.PENDING,
                    cached_file_id=cached.file_id,
                    operation_id=cached.operation_id,
                )
        job = job.but(next_poll_at=self._clock() + status_grace)
        if not await self._tracker.enqueue(job):
            return None
        await self._history.record(job)
        return job

    async def _cached_variants(self, job: Job) -> Job:
        """Each variant drawn before (same request, its seed) comes from Telegram's copy."""
        found = [
            await self._cache.lookup(job.request, job.variant_seed(i))
            for i in range(job.request.variants)
        ]
        return job.but(
            variant_files=tuple(c.file_id if c else "" for c in found),
            variant_ops=tuple((c.operation_id or "") if c else "" for c in found),
            variant_results=tuple(VARIANT_OK if c else "" for c in found),
        )

    async def attach_status(self, job: Job, status_message_id: int) -> None:
        """The status message is out: remember it (to edit or delete later) and go."""
        await self._tracker.attach_status(job.id, status_message_id)

    def inline_job(
        self,
        request: ArtRequest,
        *,
        job_id: str,
        seed: int,
        user_id: int,
        locale: str,
        inline_message_id: str,
    ) -> Job:
        """A job whose result edits an inline message; ids and seed come from the result."""
        job = self.new_job(
            request,
            chat_id=self._upload_chat(user_id),
            user_id=user_id,
            locale=locale,
            seed=seed,
            job_id=job_id,
        )
        return job.but(inline_message_id=inline_message_id)

    async def finished_job(self, job_id: str) -> Job | None:
        job = await self._store.get(job_id)
        return job if job is not None and job.state is JobState.DONE else None

    def again(
        self,
        source: Job,
        *,
        chat_id: int,
        user_id: int,
        locale: str,
        reply_to_message_id: int | None,
        job_id: str,
    ) -> Job:
        """The same prompt, ratio and enhancement with a new random seed."""
        return self.new_job(
            dataclasses.replace(source.request, seed=None),
            chat_id=chat_id,
            user_id=user_id,
            locale=locale,
            reply_to_message_id=reply_to_message_id,
            job_id=job_id,
        )

    def repeat(
        self,
        entry: HistoryEntry,
        *,
        chat_id: int,
        user_id: int,
        locale: str,
        reply_to_message_id: int | None,
        job_id: str,
    ) -> Job:
        """A request from /history again, with its seed: the same picture, from Telegram's
        copy when it is still cached (an enhanced prompt is written anew)."""
        return self.new_job(
            entry.request,
            chat_id=chat_id,
            user_id=user_id,
            locale=locale,
            reply_to_message_id=reply_to_message_id,
            job_id=job_id,
        )

    async def original(
        self,
        source: Job,
        *,
        chat_id: int,
        user_id: int,
        locale: str,
        reply_to_message_id: int | None,
        job_id: str,
        variant: int = 0,
    ) -> None:
        """The picture's JPEG as a document: fetched again from Yandex (which keeps results
        for days) or, when it is gone, generated again with the same seed. Of an album,
        the variant's."""
        operation_id = source.operation_id
        if source.is_album:
            operation_id = source.variant_ops[variant] or None
        job = self.new_job(
            dataclasses.replace(source.request, variants=1),
            chat_id=chat_id,
            user_id=user_id,
            locale=locale,
            reply_to_message_id=reply_to_message_id,
            seed=source.variant_seed(variant),
            job_id=job_id,
        ).but(
            as_document=True,
            enhanced_prompt=source.enhanced_prompt,
            enhance_failed=source.enhance_failed,
        )
        if operation_id is not None:
            job = job.moved_to(JobState.PENDING, operation_id=operation_id)
        await self._tracker.enqueue(job)

    async def cancel(self, job_id: str, user_id: int) -> CancelResult:
        job = await self._store.get(job_id)
        if job is None or not job.active:
            return CancelResult.STALE
        if job.user_id != user_id:
            return CancelResult.NOT_YOURS
        flagged = await self._store.request_cancel(job_id)
        return CancelResult.CANCELLING if flagged is not None else CancelResult.STALE


def new_job_id() -> str:
    """12 URL-safe characters: short enough for callback data and inline result ids."""
    return secrets.token_urlsafe(9)


def request_job_id(*update: object) -> str:
    """The job id of the update that asked for it (like `new_job_id`, 12 characters), so
    an update delivered twice, by a webhook retry or after a restart that polling had not
    confirmed, makes one job."""
    digest = hashlib.sha256(":".join(map(str, update)).encode()).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()
