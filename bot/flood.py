"""Telegram flood limits, handled once for every request the bot makes.

Messages are paced per chat (groups about 20 a minute, private chats about 1 a second) and
overall (about 30 a second), so a burst is delayed rather than refused; a 429 that still
comes back is waited out and retried. A request middleware covers handlers' replies and
the tracker's deliveries alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import (
    EditMessageCaption,
    EditMessageMedia,
    EditMessageReplyMarkup,
    EditMessageText,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.methods.base import Response, TelegramType
from aiolimiter import AsyncLimiter

log = logging.getLogger(__name__)

MESSAGE_METHODS = (
    SendMessage,
    SendPhoto,
    SendDocument,
    EditMessageText,
    EditMessageMedia,
    EditMessageCaption,
    EditMessageReplyMarkup,
)
MAX_CHATS = 10_000


@dataclass(frozen=True)
class FloodLimits:
    group_per_minute: float = 20.0
    private_per_second: float = 1.0
    global_per_second: float = 30.0
    max_wait: float = 120.0  # a longer retry_after is passed to the caller
    retries: int = 5


class FloodControl(BaseRequestMiddleware):
    def __init__(self, limits: FloodLimits) -> None:
        self._limits = limits
        # One message per interval: the rate is never exceeded in any window.
        self._global = AsyncLimiter(1, 1 / limits.global_per_second)
        self._chats: OrderedDict[int | str, AsyncLimiter] = OrderedDict()

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        paced = isinstance(method, MESSAGE_METHODS)  # (no narrowing: keeps `method` generic)
        if not paced:
            return await make_request(bot, method)
        chat_id: Any = getattr(method, "chat_id", None)
        retries = 0
        while True:
            if chat_id is not None:
                await self._chat_limiter(chat_id).acquire()
            await self._global.acquire()
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                retries += 1
                if exc.retry_after > self._limits.max_wait or retries > self._limits.retries:
                    raise
                log.info("flood limit in chat %s: waiting %ss", chat_id, exc.retry_after)
                await asyncio.sleep(exc.retry_after)

    def _chat_limiter(self, chat_id: int | str) -> AsyncLimiter:
        limiter = self._chats.get(chat_id)
        if limiter is None:
            is_group = isinstance(chat_id, str) or chat_id < 0
            interval = (
                60 / self._limits.group_per_minute
                if is_group
                else 1 / self._limits.private_per_second
            )
            limiter = self._chats[chat_id] = AsyncLimiter(1, interval)
            if len(self._chats) > MAX_CHATS:
                self._chats.popitem(last=False)
        self._chats.move_to_end(chat_id)
        return limiter
