"""Rewriting a status message that is not yet tied to a job (a voice prompt being heard).

Network and server errors are retried a few times with backoff; a status message that is
gone or cannot be edited is replaced by a new message replying to the request, so the user
still gets the one answer. Flood limits are waited out below (bot/telegram/flood.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup, Message, ReplyParameters

log = logging.getLogger(__name__)


class StatusEdits:
    def __init__(self, bot: Bot, *, attempts: int = 4, backoff: float = 0.5) -> None:
        self._bot = bot
        self._attempts = attempts
        self._backoff = backoff

    async def show(
        self,
        chat_id: int,
        message_id: int | None,
        text: str,
        *,
        reply_to: int,
        markup: InlineKeyboardMarkup | None = None,
    ) -> int | None:
        """Put `text` in the status message, or send it anew when that cannot be edited;
        the id of the message that shows it, None when Telegram took neither."""
        if message_id is not None:
            edited = await self._edit(chat_id, message_id, text, markup)
            if edited is not False:
                return edited
        try:
            reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
            sent = await self._retrying(
                lambda: self._bot.send_message(
                    chat_id, text, reply_parameters=reply, reply_markup=markup
                )
            )
        except TelegramAPIError as exc:
            log.info("status message not sent: %s", type(exc).__name__)
            return None
        return sent.message_id if isinstance(sent, Message) else None

    async def _edit(
        self, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None
    ) -> int | bool | None:
        """The message's id once edited; False when it must be sent anew (it cannot be
        edited), None when Telegram did not answer."""
        try:
            await self._retrying(
                lambda: self._bot.edit_message_text(
                    text, chat_id=chat_id, message_id=message_id, reply_markup=markup
                )
            )
            return message_id
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return message_id
            log.info("status message cannot be edited, sending anew")
            return False
        except TelegramAPIError as exc:
            log.info("status message not edited: %s", type(exc).__name__)
            return None

    async def delete(self, chat_id: int, message_id: int) -> None:
        try:
            await self._bot.delete_message(chat_id, message_id)
        except TelegramAPIError as exc:
            log.debug("status message not deleted: %s", type(exc).__name__)

    async def _retrying(self, call: Callable[[], Awaitable[Any]]) -> Any:
        for attempt in range(self._attempts - 1):
            try:
                return await call()
            except (TelegramNetworkError, TelegramServerError):
                await asyncio.sleep(self._backoff * 2**attempt * random.uniform(0.5, 1.5))
        return await call()
