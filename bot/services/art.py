"""What the bot does for a request once it is parsed: jobs for /art, inline results and
the buttons under pictures. Handlers call this and only talk to Telegram."""

from __future__ import annotations

import dataclasses
import logging
import random
import secrets
import time
from collections.abc import Callable
from enum import StrEnum

from bot.core.errors import StoreUnavailable
from bot.core.history import HistoryEntry
from bot.core.jobs import VARIANT_OK, Job, JobIds, JobState, new_idempotency_key
from bot.core.limits import BUSY, DUPLICATE, REUSED, Refusal, is_chat_key
from bot.core.models import NoModel
from bot.core.prompt import ArtRequest, Limits, PromptError, parse_art_args
from bot.core.styles import BUILTIN, StyleCatalog
from bot.services.availability import ModelAvailability, needs_of
from bot.services.backends import Backends
from bot.services.history import HistoryService
from bot.services.prefs import PrefsService
from bot.services.quotas import Quotas
from bot.services.tracker import Tracker
from bot.services.wallet import Wallet
from bot.storage.base import JobStore
from bot.storage.picture_cache import PictureCache

log = logging.getLogger(__name__)

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
        availability: ModelAvailability,
        deadline: float,
        upload_chat: Callable[[int], int],
        job_ids: JobIds,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        styles: StyleCatalog = BUILTIN,
        wallet: Wallet | None = None,
    ) -> None:
        self._tracker = tracker
        self._wallet = wallet
        self.styles = styles
        self._store = store
        self._cache = cache
        self._quotas = quotas
        self._prefs = prefs
        self._history = history
        self.limits = limits
        self.backends = backends
        self._availability = availability
        self._deadline = deadline
        self._upload_chat = upload_chat
        self.job_ids = job_ids
        self._clock = clock
        self._rng = rng or random.SystemRandom()

    async def parse(
        self, user_id: int, args: str | None, replied_text: str | None = None
    ) -> ArtRequest:
        """The request, with the user's /settings where no flag says otherwise."""
        offered = self.backends.offered
        prefs = await self._prefs.get(user_id)
        defaults = prefs.defaults_among(offered, self.backends.default)
        request = parse_art_args(args, self.limits, replied_text, defaults, self.styles, offered)
        return await self.available(request)

    async def available(self, request: ArtRequest) -> ArtRequest:
        """The request as a model that can draw it now gets it: its own, or the next one in
        MODELS when Yandex refuses it; refused (PromptError, before anything is spent)
        when no available model can honour it, or its prompt is longer than it takes."""
        chosen = await self._availability.reroute(request)
        if isinstance(chosen, NoModel) and chosen.flag is None:
            raise PromptError("models_unavailable")
        if isinstance(chosen, NoModel):
            params = {"model": request.model, "other": chosen.model, "flag": chosen.flag}
            raise PromptError("model_unavailable", {k: v or "" for k, v in params.items()})
        limit = self.backends.capabilities[chosen.model].prompt_max
        length = sum(len(part.text) for part in chosen.parts)
        if length > limit:
            raise PromptError("prompt_too_long", {"length": length, "limit": limit})
        return chosen

    async def admit(self, job: Job) -> Refusal | None:
        """The one admission of every generation: call it before `start` on every path that
        can make a picture (/art, Again, a chosen inline result, Original; plain-text
        prompts, variants, /history repeats and voice prompts too). It checks the
        allowlists (the job's chat, none for inline), takes a slot among the user's
        generations in progress (a request counts once, an album too) and counts the day's
        quota, a picture per variant; a refusal says which and until when.

        A job that only re-fetches a result Yandex still keeps (an Original) costs no
        quota; drawing it again when Yandex has dropped it is counted by the tracker. A
        job whose update came twice is a silent `DUPLICATE`; an Original of a picture whose
        Original is already on its way is `BUSY`. A job that is admitted but cannot start
        must be handed back with `release`.

        With payments on, pictures beyond the free quota are paid with credits, reserved
        here for the job (`Wallet.cover`)."""
        try:
            known = await self._store.get(job.id)
        except StoreUnavailable:
            known = None  # the store's own add still refuses a duplicate
        if known is not None:
            reused = job.inline_message_id not in (None, known.inline_message_id)
            return Refusal(REUSED if reused else DUPLICATE)
        chat_id = None if job.inline_message_id is not None else job.chat_id
        refusal = await self._quotas.admit(
            job.user_id,
            job.slot,
            chat_id=chat_id,
            pictures=job.request.variants,
            charge=job.operation_id is None,
        )
        if refusal is not None and self._wallet is not None and self._wallet.enabled:
            refusal = await self._wallet.cover(
                refusal,
                user_id=job.user_id,
                job_id=job.id,
                slot=job.slot,
                chat_id=chat_id,
                pictures=job.request.variants,
            )
        if refusal is not None and refusal.reason == BUSY and job.source_id is None:
            return Refusal(DUPLICATE)  # the same update, handled at this very moment
        return refusal

    async def release(self, job: Job) -> None:
        """Hand back what admission took of a job that could not start: the slot, the
        credits held, and the day's pictures it counted (a picture is paid only when drawn)."""
        paid = 0
        try:
            await self._store.release_slot(job.user_id, job.slot)
            if self._wallet is not None and self._wallet.enabled:
                paid = await self._wallet.settle(job.user_id, job.id, 0)
        except StoreUnavailable:
            log.warning("job %s: store unavailable, its slot expires by itself", job.id)
        if job.operation_id is None:  # admitted with charge=True: its pictures were counted
            await self._quotas.give_back(job.user_id, job.request.variants - paid)

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
            idempotency_key=new_idempotency_key(),
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
        job = await self._off_removed_model(job)
        job = await self._from_cache(job)
        job = job.but(next_poll_at=self._clock() + status_grace, credits=await self._cost(job))
        if not await self._tracker.enqueue(job):
            return None
        await self._history.record(job)
        return job

    async def _off_removed_model(self, job: Job) -> Job:
        """A job of a model no longer offered (Again, a /history repeat, an old button)
        goes to the user's default model when that one can draw it; else the tracker hands
        it to the first offered model that can."""
        request = job.request
        if request.model in self.backends.offered:
            return job
        prefs = await self._prefs.get(job.user_id)
        model = prefs.defaults_among(self.backends.offered, self.backends.default).model
        if needs_of(request).refused_by(self.backends.offered[model]) is not None:
            return job
        moved = dataclasses.replace(request, model=model, instead_of=request.model)
        return job.but(request=moved)

    async def heard(self, job: Job) -> Job:
        """A voice request's job once heard, as `start` would store it; the tracker that
        heard it holds it already and saves it."""
        job = await self._from_cache(job)
        await self._history.record(job)
        return job

    async def enqueue_hearing(self, job: Job, *, status_grace: float) -> bool:
        """Store a voice request's job from its admission, to be heard by the tracker;
        False when it is known already (its update came twice) or refused and told."""
        job = job.but(next_poll_at=self._clock() + status_grace, credits=await self._cost(job))
        return await self._tracker.enqueue(job)

    async def _from_cache(self, job: Job) -> Job:
        """A request with the user's own seed drawn before comes from Telegram's copy."""
        if job.is_album and job.request.seed is not None and not job.request.enhance:
            return await self._cached_variants(job)
        if job.request.seed is not None and not job.request.enhance:
            cached = await self._cache.lookup(job.request, job.seed)
            if cached is not None:
                return job.moved_to(
                    JobState.PENDING,
                    cached_file_id=cached.file_id,
                    operation_id=cached.operation_id,
                )
        return job

    async def _cost(self, job: Job) -> int:
        """The credits admission reserved for the job, stored with it (the status says so)."""
        return 0 if self._wallet is None else await self._wallet.cost(job)

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
        await self._tracker.attach_status(job.id, status_message_id, job.chat_id)

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
        inline_message_id: str | None = None,
    ) -> Job:
        """The same prompt, ratio and enhancement with a new random seed; under an inline
        picture the result edits that inline message (uploaded via the presser's chat)."""
        job = self.new_job(
            # Drawn by the model that drew the source; why it did is no longer news.
            dataclasses.replace(source.request, seed=None, instead_of=None),
            chat_id=chat_id if inline_message_id is None else self._upload_chat(user_id),
            user_id=user_id,
            locale=locale,
            reply_to_message_id=reply_to_message_id,
            job_id=job_id,
        )
        return job.but(inline_message_id=inline_message_id)

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
        copy when it is still cached (an enhanced prompt is written anew). A request of a
        model no longer offered cannot be that picture: another model draws it anew."""
        request = dataclasses.replace(entry.request, instead_of=None)
        if request.model not in self.backends.offered:
            request = dataclasses.replace(request, seed=None)
        return self.new_job(
            request,
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
    ) -> Refusal | None:
        """The picture's JPEG as a document (of an album, the variant's): fetched again from
        Yandex (which keeps results for days, at no cost) or, when it is gone, drawn once
        more with the same seed (which counts). Admitted like every generation; a refusal
        says why nothing starts."""
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
            source_id=source.id,
        )
        if operation_id is not None:
            job = job.moved_to(JobState.PENDING, operation_id=operation_id)
        refusal = await self.admit(job)
        if refusal is None:
            job = job.but(credits=await self._cost(job))
        if refusal is None and not await self._tracker.enqueue(job):
            return Refusal(DUPLICATE)
        return refusal

    async def cancel(
        self, job_id: str, user_id: int, *, admin_of: int | None = None
    ) -> CancelResult:
        """Cancel for its requester; a job asked for on behalf of a chat (an anonymous
        admin, a channel) also for an admin of the chat it was asked in (`admin_of`)."""
        job = await self._store.get(job_id)
        if job is None or not job.active:
            return CancelResult.STALE
        for_chat = is_chat_key(job.user_id) and admin_of == job.chat_id
        if job.user_id != user_id and not for_chat:
            return CancelResult.NOT_YOURS
        flagged = await self._store.request_cancel(job_id)
        return CancelResult.CANCELLING if flagged is not None else CancelResult.STALE


def new_job_id() -> str:
    """12 URL-safe characters: short enough for callback data and inline result ids."""
    return secrets.token_urlsafe(9)
