"""Keep "sending a photo…" visible in chats that wait for a picture.

Telegram shows a chat action for about 5 s, so it must be repeated. One loop serves every
waiting job (not a task per job), and it pings at most `max_chats` chats per round.

With several instances the job that one instance saw may be finished by another, so each
round first asks the store (`still_waiting`) which of the jobs are still active and forgets
the others: the waiting set follows the jobs, not the instance.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection

from aiogram import Bot
from aiogram.enums import ChatAction
from aiogram.exceptions import TelegramAPIError

from bot.core.errors import StoreUnavailable

log = logging.getLogger(__name__)

StillWaiting = Callable[[Collection[str]], Awaitable[Collection[str]]]


class ChatActions:
    def __init__(
        self,
        bot: Bot,
        *,
        interval: float = 4.5,
        max_chats: int = 100,
        still_waiting: StillWaiting | None = None,
    ) -> None:
        self._bot = bot
        self._interval = interval
        self._max_chats = max_chats
        self._still_waiting = still_waiting
        self._waiting: dict[str, int] = {}  # job id → chat id, oldest first
        self._changed = asyncio.Event()

    def keep(self, job_id: str, chat_id: int) -> None:
        if job_id not in self._waiting:
            self._waiting[job_id] = chat_id
            self._changed.set()

    def drop(self, job_id: str) -> None:
        self._waiting.pop(job_id, None)

    def chats(self) -> list[int]:
        """Distinct waiting chats, oldest request first, at most `max_chats`."""
        return list(dict.fromkeys(self._waiting.values()))[: self._max_chats]

    async def forget_ended(self) -> None:
        """Drop the jobs that ended, here or on another instance; in a store outage keep
        them all (the actions stop with the outage's end or the jobs' own end here)."""
        if self._still_waiting is None or not self._waiting:
            return
        try:
            active = await self._still_waiting(list(self._waiting))
        except StoreUnavailable:
            return
        for job_id in [j for j in self._waiting if j not in active]:
            self.drop(job_id)

    async def run(self) -> None:
        while True:
            await self.forget_ended()
            for chat_id in self.chats():
                try:
                    await self._bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO)
                except TelegramAPIError as exc:
                    log.debug("chat action failed: %s", type(exc).__name__)
            self._changed.clear()
            if self._waiting:
                await asyncio.sleep(self._interval)
            else:
                await self._changed.wait()
