"""Keep the classes aiogram parses Bot API answers with alive.

aiogram reads every answer as `Response[T]`, a pydantic generic model built on first use.
pydantic caches these classes only weakly, so a garbage collection drops them and the next
answer builds one again (about a millisecond each, several times a second under load).
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType


class PinResponseTypes(BaseRequestMiddleware):
    """Holds `Response[T]` for each method the bot has called (a few dozen at most)."""

    def __init__(self) -> None:
        self._pinned: dict[type[TelegramMethod[Any]], type[Response[Any]]] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        kind = type(method)
        if kind not in self._pinned:
            self._pinned[kind] = Response[method.__returning__]  # type: ignore[name-defined]
        return await make_request(bot, method)
