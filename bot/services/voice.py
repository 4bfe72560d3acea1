"""Voice prompts: a voice message, heard by SpeechKit, drawn like `/art <what was said>`.

The handler checks the API's limits on the message itself and the flags of `/art` replying
to it, passes the request through the same admission as every generation (`admit`, before
any download or call to SpeechKit), and hands it here: it becomes a job in the store at once
(state hearing), shown by a status message. The tracker runs its recognition as the job's
step (`hear`): download and recognition (within the SpeechKit budget, waited for before the
download, and at most `max_in_flight` at a time), then the very path of `/art`, in the same
job. A process killed meanwhile leaves the job to be heard again after its lease; a voice
that names no picture ends with exactly one explanation in the status message and gives
back its generation slot (the job's) and the pictures it counted. No audio is kept.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass

from bot.core.budget import Budget
from bot.core.errors import StoreUnavailable
from bot.core.jobs import Job, JobState
from bot.core.limits import Refusal
from bot.core.prompt import ArtRequest, Limits, PromptError
from bot.core.voice import VoiceIssue, recognised_prompt, stt_language
from bot.services.art import ArtService
from bot.services.quotas import Quotas
from bot.services.wallet import Wallet
from bot.storage.base import JobStore
from bot.telegram.keyboards import status_keyboard
from bot.telegram.status_edits import StatusEdits
from bot.telegram.texts import Texts
from bot.telegram.voice_files import DownloadFailed, VoiceFiles
from bot.yandex.errors import YandexArtError
from bot.yandex.speechkit import SpeechKitClient

log = logging.getLogger(__name__)

# What the flags of `/art` replying to a voice are checked with before it is heard.
_UNHEARD = "voice"


@dataclass(frozen=True)
class VoicePrompt:
    """A voice message admitted as a request."""

    file_id: str
    chat_id: int
    user_id: int
    locale: str
    job_id: str
    request_message_id: int
    # `/art` sent as a reply to the voice: its own arguments (flags), and the recognised
    # text is drawn literally. None: a voice message on its own, whose recognised text is
    # read like `/art` arguments.
    command_args: str | None = None
    from_reply: bool = False


@dataclass(frozen=True)
class Duplicate:
    """This request is being heard or was drawn already (its update came twice)."""


class VoiceService:
    def __init__(
        self,
        *,
        art: ArtService,
        quotas: Quotas,
        store: JobStore,
        files: VoiceFiles,
        stt: SpeechKitClient,
        budget: Budget,
        edits: StatusEdits,
        texts: Texts,
        enabled: bool,
        max_in_flight: int = 20,
        wallet: Wallet | None = None,
    ) -> None:
        self._wallet = wallet
        self._art = art
        self._quotas = quotas
        self._store = store
        self._files = files
        self._stt = stt
        self._budget = budget
        self._edits = edits
        self._texts = texts
        self.enabled = enabled
        self.job_ids = art.job_ids
        # Requests of this instance from admission until their job is stored: a copy of
        # the update that arrives meanwhile (handled concurrently) is a duplicate.
        self._claimed: set[str] = set()
        # Downloads and recognitions at a time: audio is fetched only when it can be sent.
        self._in_flight = asyncio.Semaphore(max_in_flight)

    @property
    def limits(self) -> Limits:
        return self._art.limits

    async def flags(self, user_id: int, command_args: str | None) -> ArtRequest:
        """The request the flags of `/art` replying to a voice make (none for a voice on
        its own), checked as `/art` checks them (the model, `--n`, `--seed`…) before
        anything is counted, downloaded or heard; raises `PromptError` for flags `/art`
        would refuse. Its prompt is a placeholder until the voice is heard."""
        return await self._art.parse(user_id, command_args, _UNHEARD)

    async def admit(
        self, user_id: int, job_id: str, *, chat_id: int, pictures: int = 1
    ) -> Refusal | Duplicate | None:
        """The admission of every generation (`Quotas.admit`, as `ArtService.admit` does for
        a job), taken before anything is downloaded or recognised, counting `pictures` for
        the day (known only from the flags of `/art` replying to the voice). The slot is
        the job's: it is released when the job ends, or by `release`."""
        if job_id in self._claimed:
            return Duplicate()
        self._claimed.add(job_id)
        verdict: Refusal | Duplicate | None = Duplicate()
        try:
            if not await self._known(job_id):
                verdict = await self._quotas.admit(
                    user_id, job_id, chat_id=chat_id, pictures=pictures
                )
                if verdict is not None and self._wallet is not None and self._wallet.enabled:
                    verdict = await self._wallet.cover(
                        verdict,
                        user_id=user_id,
                        job_id=job_id,
                        slot=job_id,
                        chat_id=chat_id,
                        pictures=pictures,
                    )
        finally:
            if verdict is not None:
                self._claimed.discard(job_id)
        return verdict

    async def release(self, user_id: int, job_id: str, pictures: int) -> None:
        """Give back the slot, the day's `pictures` and the credits held of a request that
        will not become a job: a picture is paid for only when drawn."""
        self._claimed.discard(job_id)
        paid = 0
        with suppress(StoreUnavailable):
            await self._store.release_slot(user_id, job_id)
            if self._wallet is not None and self._wallet.enabled:
                paid = await self._wallet.settle(user_id, job_id, 0)
        await self._quotas.give_back(user_id, pictures - paid)

    async def listen(
        self, prompt: VoicePrompt, flags: ArtRequest, *, status_grace: float
    ) -> Job | None:
        """Store the admitted voice request as a job to be heard, before its status message
        is sent (as `/art` does), so a crash from here on leaves a job, not a held slot.
        None when it is not stored: its slot and pictures were given back (a full outage
        backlog has been told)."""
        job = self._art.new_job(
            flags,
            chat_id=prompt.chat_id,
            user_id=prompt.user_id,
            locale=prompt.locale,
            reply_to_message_id=prompt.request_message_id,
            job_id=prompt.job_id,
        ).but(
            state=JobState.HEARING,
            voice_file_id=prompt.file_id,
            voice_args=prompt.command_args,
            voice_from_reply=prompt.from_reply,
        )
        try:
            stored = await self._art.enqueue_hearing(job, status_grace=status_grace)
        finally:
            self._claimed.discard(prompt.job_id)
        if not stored:
            await self.release(prompt.user_id, prompt.job_id, flags.variants)
            return None
        return job

    async def attach_status(self, job: Job, status_message_id: int) -> None:
        """The "Listening…" message is out: the job edits it from now on."""
        await self._art.attach_status(job, status_message_id)

    async def close(self) -> None:
        """Recognitions are the tracker's steps, stopped with it; then the client goes."""
        await self._stt.close()

    async def _known(self, job_id: str) -> bool:
        try:
            return await self._store.get(job_id) is not None
        except StoreUnavailable:
            return False

    async def hear(self, job: Job) -> Job | None:
        """The tracker's step for a job being heard: what the voice names as a job to draw,
        or None when the user has been told why there is nothing (the pictures counted at
        admission are given back; the tracker releases the slot)."""
        heard = None
        text = await self._recognise(job)
        if text is not None:
            heard = await self._request(job, text)
        if heard is None:
            await self._quotas.give_back(job.user_id, job.free_pictures)
        return heard

    async def interrupted(self, job: Job) -> None:
        """The bot stops while hearing: say so rather than listen forever."""
        log.warning("voice %s: stopped by shutdown", job.id)
        await self._tell(job, self._texts.voice_issue(job.locale, VoiceIssue.INTERRUPTED))
        await self._quotas.give_back(job.user_id, job.free_pictures)

    async def _recognise(self, job: Job) -> str | None:
        """What was said; None when the user has been told why there is nothing."""
        locale = job.locale
        assert job.voice_file_id is not None
        try:
            async with self._in_flight:
                await self._budget.acquire()
                audio = await self._files.download(job.voice_file_id)
                result = await self._stt.recognize(audio, stt_language(locale))
        except DownloadFailed as exc:
            log.info("voice %s: download failed (%s)", job.id, exc)
            await self._tell(job, self._texts.voice_issue(locale, VoiceIssue.DOWNLOAD_FAILED))
            return None
        except YandexArtError as exc:
            log.info("voice %s: recognition failed (%s)", job.id, exc.kind)
            await self._tell(job, self._texts.voice_failure(locale, exc.kind))
            return None
        text = recognised_prompt(result)
        if not text:
            await self._tell(job, self._texts.voice_issue(locale, VoiceIssue.EMPTY))
            return None
        return text

    async def _request(self, job: Job, text: str) -> Job | None:
        """The recognised text drawn exactly as `/art` would, in the same job."""
        locale = job.locale
        try:
            if job.voice_from_reply:
                request = await self._art.parse(job.user_id, job.voice_args, text)
            else:
                request = await self._art.parse(job.user_id, text)
        except PromptError as error:
            await self._tell_heard(job, text, self._texts.prompt_error(locale, error))
            return None
        if request.variants > job.request.variants:
            # A `--n` in what was said: more pictures than admission counted.
            await self._tell_heard(job, text, self._texts.get(locale, "voice.no_variants"))
            return None
        drawn = self._art.new_job(
            request,
            chat_id=job.chat_id,
            user_id=job.user_id,
            locale=locale,
            reply_to_message_id=job.reply_to_message_id,
            job_id=job.id,
        ).but(credits=job.credits)  # held at admission, settled when the job ends
        # The status says what was heard before the job can change it, so any later
        # word from the tracker (queue, failure, the picture) comes after this one.
        status_id = await self._edits.show(
            job.chat_id,
            job.status_message_id,
            self._texts.voice_status(text, drawn),
            reply_to=job.reply_to_message_id or 0,
            markup=status_keyboard(self._texts, locale, drawn.id),
        )
        return await self._art.heard(drawn.but(status_message_id=status_id))

    async def _tell_heard(self, job: Job, heard: str, text: str) -> None:
        await self._tell(job, f"{self._texts.heard(job.locale, heard)}\n{text}")

    async def _tell(self, job: Job, text: str) -> None:
        await self._edits.show(
            job.chat_id, job.status_message_id, text, reply_to=job.reply_to_message_id or 0
        )
