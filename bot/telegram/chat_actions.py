"""Keep "sending a photo…" visible in chats that wait for a picture.

Telegram shows a chat action for about 5 s, so it must be repeated. One loop serves every
waiting job (not a task per job), and it pings at most `max_chats` chats per round.
"""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.enums import ChatAction
from aiogram.exceptions import TelegramAPIError

log = logging.getLogger(__name__)


class ChatActions:
    def __init__(self, bot: Bot, *, interval: float = 4.5, max_chats: int = 100) -> None:
        self._bot = bot
        self._interval = interval
        self._max_chats = max_chats
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

    async def run(self) -> None:
        while True:
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
