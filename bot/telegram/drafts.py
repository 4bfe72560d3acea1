"""Live progress in private chats: while a picture is drawn the chat shows a draft
(`sendMessageDraft`, Bot API 9.5) with the place in the queue, the model, the time so far
and what such pictures usually take, with Telegram's own Stop button (`can_stop`, 10.3).

A draft is a 30-second preview that disappears once the bot sends a message (the picture),
so it is sent again every `interval` seconds while its job is active; Telegram refuses
updates that come too fast (429), which are waited out. The draft's id is the request's
message id, so a Stop (`stopped_message_generation`) names the job on any instance. Where
Telegram refuses the first draft, `open` says so and the caller keeps today's status
message; a later refusal only ends the updates (the picture still comes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter

from bot.core.jobs import Job
from bot.telegram.texts import Texts

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 10


@dataclass
class _Live:
    job: Job
    draft_id: int
    opened_at: float
    place: int | None = None


class Drafts:
    def __init__(
        self,
        bot: Bot,
        texts: Texts,
        *,
        interval: float,
        active: Callable[[str], Awaitable[bool]],
        estimate: Callable[[Job], Awaitable[float | None]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`active(job_id)`: whether the job is still drawn; `estimate(job)`: how long such
        pictures usually take, seconds (None while unknown)."""
        self._bot = bot
        self._texts = texts
        self._interval = interval
        self._active = active
        self._estimate = estimate
        self._clock = clock
        self._live: dict[str, _Live] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @staticmethod
    def fits(job: Job) -> bool:
        """Drafts are for private chats, and named after the request's message."""
        return job.chat_id > 0 and job.inline_message_id is None and bool(job.reply_to_message_id)

    async def open(self, job: Job) -> bool:
        """Show the first draft and keep it fresh; False when Telegram refused it."""
        assert job.reply_to_message_id is not None
        live = _Live(job, job.reply_to_message_id, self._clock())
        try:
            await self._send(live)
        except TelegramAPIError as exc:
            log.info("draft refused (%s): a status message instead", type(exc).__name__)
            return False
        self._live[job.id] = live
        task = asyncio.create_task(self._keep(live), name=f"draft-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def place(self, job: Job, position: int | None) -> None:
        """The job's place in the queue for the Yandex quota (None: its turn came)."""
        live = self._live.get(job.id)
        if live is not None:
            live.place = position

    async def _keep(self, live: _Live) -> None:
        try:
            while True:
                await asyncio.sleep(self._interval)
                if not await self._active(live.job.id):
                    return
                try:
                    await self._send(live)
                except TelegramRetryAfter as exc:
                    await asyncio.sleep(exc.retry_after)
                except TelegramAPIError as exc:  # stopped, or the chat is gone
                    log.info("draft of job %s not updated: %s", live.job.id, type(exc).__name__)
                    return
        finally:
            self._live.pop(live.job.id, None)

    async def _send(self, live: _Live) -> None:
        text = self._texts.draft(
            live.job,
            elapsed=self._clock() - live.opened_at,
            estimate=await self._estimate(live.job),
            place=live.place,
        )
        await self._bot.send_message_draft(
            live.job.chat_id,
            live.draft_id,
            text=text,
            can_stop=True,
            request_timeout=REQUEST_TIMEOUT,
        )

    async def close(self) -> None:
        """At shutdown: stop updating (each draft expires by itself)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
