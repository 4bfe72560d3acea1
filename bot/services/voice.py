"""Voice prompts: a voice message, heard by SpeechKit, drawn like `/art <what was said>`.

The handler checks the API's limits on the message itself, passes the request through the
same admission as every generation (`admit`, before any download or call to SpeechKit),
shows a status message and hands the rest here: download, recognition (within the
SpeechKit budget), then the very path of `/art`. Every recognition is a tracked task that
ends with the picture's job started or exactly one explanation in the status message; a
recognition that ends without a job gives its generation slot back. No audio is kept.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass

from bot.core.budget import Budget
from bot.core.errors import ErrorKind, StoreUnavailable
from bot.core.limits import Refusal
from bot.core.prompt import Limits, PromptError
from bot.core.voice import VoiceIssue, recognised_prompt, stt_language
from bot.services.art import ArtService
from bot.services.quotas import Quotas
from bot.storage.base import JobStore
from bot.telegram.keyboards import status_keyboard
from bot.telegram.status_edits import StatusEdits
from bot.telegram.texts import Texts
from bot.telegram.voice_files import DownloadFailed, VoiceFiles
from bot.yandex.errors import YandexArtError
from bot.yandex.speechkit import SpeechKitClient

log = logging.getLogger(__name__)

# At shutdown, how long the bot tries to tell a user their voice was not heard.
TELL_AT_SHUTDOWN = 3.0
# How long shutdown waits for recognitions in flight (the tracker waits as long for its steps).
SHUTDOWN_GRACE = 10.0


@dataclass(frozen=True)
class VoicePrompt:
    """A voice message admitted as a request, its status message already shown."""

    file_id: str
    chat_id: int
    user_id: int
    locale: str
    job_id: str
    request_message_id: int
    status_message_id: int
    # `/art` sent as a reply to the voice: its own arguments (flags), and the recognised
    # text is drawn literally. None: a voice message on its own, whose recognised text is
    # read like `/art` arguments.
    command_args: str | None = None
    from_reply: bool = False
    # The pictures admission counted: what the command's `--n` asked for, else 1.
    pictures: int = 1


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
        shutdown_grace: float = SHUTDOWN_GRACE,
    ) -> None:
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
        self.shutdown_grace = shutdown_grace
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # Requests of this instance from admission to their end: a copy of the update that
        # arrives meanwhile (handled concurrently) is a duplicate.
        self._claimed: set[str] = set()

    @property
    def limits(self) -> Limits:
        return self._art.limits

    async def admit(
        self, user_id: int, job_id: str, *, chat_id: int, pictures: int = 1
    ) -> Refusal | Duplicate | None:
        """The admission of every generation (`Quotas.admit`, as `ArtService.admit` does for
        a job: there is no job before the voice is heard), taken before anything is
        downloaded or recognised, counting `pictures` for the day (known only from the
        flags of `/art` replying to the voice). The slot is the job's: it is released when
        the job ends, or here when no job comes of the voice."""
        if job_id in self._claimed:
            return Duplicate()
        self._claimed.add(job_id)
        verdict: Refusal | Duplicate | None = Duplicate()
        try:
            if not await self._known(job_id):
                verdict = await self._quotas.admit(
                    user_id, job_id, chat_id=chat_id, pictures=pictures
                )
        finally:
            if verdict is not None:
                self._claimed.discard(job_id)
        return verdict

    async def release(self, user_id: int, job_id: str) -> None:
        """Give back the slot of a request that will not become a job."""
        self._claimed.discard(job_id)
        with suppress(StoreUnavailable):
            await self._store.release_slot(user_id, job_id)

    def hear(self, prompt: VoicePrompt) -> None:
        """Recognise and draw in the background; the task is kept until it ends."""
        task = asyncio.create_task(self._run(prompt), name=f"voice-{prompt.job_id}")
        self._tasks[prompt.job_id] = task
        task.add_done_callback(lambda _: self._ended(prompt.job_id))

    def _ended(self, job_id: str) -> None:
        self._tasks.pop(job_id, None)
        self._claimed.discard(job_id)

    async def close(self) -> None:
        """Let recognitions in flight finish (each is bounded by timeouts), then stop."""
        tasks = set(self._tasks.values())
        if tasks:
            _, unfinished = await asyncio.wait(tasks, timeout=self.shutdown_grace)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        await self._stt.close()

    async def _known(self, job_id: str) -> bool:
        try:
            return await self._store.get(job_id) is not None
        except StoreUnavailable:
            return False

    async def _run(self, prompt: VoicePrompt) -> None:
        text: str | None = None
        started = False
        try:
            text = await self._recognise(prompt)
            if text is not None:
                started = await self._start(prompt, text)
        except asyncio.CancelledError:
            # Shutdown outlasted the recognition: say so rather than listen forever.
            log.warning("voice %s: stopped by shutdown", prompt.job_id)
            if text is None:
                interrupted = self._texts.voice_issue(prompt.locale, VoiceIssue.INTERRUPTED)
                await asyncio.wait_for(self._tell(prompt, interrupted), TELL_AT_SHUTDOWN)
            raise
        except Exception:
            log.exception("voice %s: unexpected error", prompt.job_id)
            await self._tell(prompt, self._texts.voice_failure(prompt.locale, ErrorKind.FAILED))
        finally:
            if not started:
                await self.release(prompt.user_id, prompt.job_id)

    async def _recognise(self, prompt: VoicePrompt) -> str | None:
        """What was said; None when the user has been told why there is nothing."""
        locale = prompt.locale
        try:
            audio = await self._files.download(prompt.file_id)
        except DownloadFailed as exc:
            log.info("voice %s: download failed (%s)", prompt.job_id, exc)
            await self._tell(prompt, self._texts.voice_issue(locale, VoiceIssue.DOWNLOAD_FAILED))
            return None
        try:
            await self._budget.acquire()
            result = await self._stt.recognize(audio, stt_language(locale))
        except YandexArtError as exc:
            log.info("voice %s: recognition failed (%s)", prompt.job_id, exc.kind)
            await self._tell(prompt, self._texts.voice_failure(locale, exc.kind))
            return None
        text = recognised_prompt(result)
        if not text:
            await self._tell(prompt, self._texts.voice_issue(locale, VoiceIssue.EMPTY))
            return None
        return text

    async def _start(self, prompt: VoicePrompt, text: str) -> bool:
        """Draw the recognised text exactly as `/art` would."""
        locale = prompt.locale
        try:
            if prompt.from_reply:
                request = await self._art.parse(prompt.user_id, prompt.command_args, text)
            else:
                request = await self._art.parse(prompt.user_id, text)
        except PromptError as error:
            await self._tell_heard(prompt, text, self._texts.prompt_error(locale, error))
            return False
        if request.variants > prompt.pictures:
            # A `--n` in what was said: more pictures than admission counted.
            await self._tell_heard(prompt, text, self._texts.get(locale, "voice.no_variants"))
            return False
        job = self._art.new_job(
            request,
            chat_id=prompt.chat_id,
            user_id=prompt.user_id,
            locale=locale,
            reply_to_message_id=prompt.request_message_id,
            job_id=prompt.job_id,
        )
        # The status says what was heard before the job can change it, so any later
        # word from the tracker (queue, failure, the picture) comes after this one.
        status_id = await self._edits.show(
            prompt.chat_id,
            prompt.status_message_id,
            self._texts.voice_status(text, job),
            reply_to=prompt.request_message_id,
            markup=status_keyboard(self._texts, locale, job.id),
        )
        started = await self._art.start(job.but(status_message_id=status_id))
        if started is None and status_id is not None:
            await self._edits.delete(prompt.chat_id, status_id)  # drawn by its first delivery
        return True

    async def _tell_heard(self, prompt: VoicePrompt, heard: str, text: str) -> None:
        await self._tell(prompt, f"{self._texts.heard(prompt.locale, heard)}\n{text}")

    async def _tell(self, prompt: VoicePrompt, text: str) -> None:
        await self._edits.show(
            prompt.chat_id,
            prompt.status_message_id,
            text,
            reply_to=prompt.request_message_id,
        )
