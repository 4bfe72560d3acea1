"""One private message to every admin (ADMIN_IDS): a model Yandex refused was set aside."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError

from bot.telegram.texts import Texts

log = logging.getLogger(__name__)

# An admin's private chat is a chat like any: one message, never waiting long for it.
NOTICE_TIMEOUT = 10


class AdminNotice:
    def __init__(self, bot: Bot, texts: Texts, admins: Iterable[int], locale: str) -> None:
        self._bot = bot
        self._texts = texts
        self._admins = sorted(admins)
        self._locale = locale

    async def model_set_aside(self, model: str, error: str) -> None:
        """Tell each admin; one who never started the bot (or blocked it) is skipped."""
        text = self._texts.model_set_aside(self._locale, model, error)
        for admin in self._admins:
            try:
                await self._bot.send_message(
                    admin, text, parse_mode=ParseMode.HTML, request_timeout=NOTICE_TIMEOUT
                )
            except TelegramAPIError as exc:
                log.warning(
                    "admin %s not told that %s was set aside (%s)", admin, model, type(exc).__name__
                )
