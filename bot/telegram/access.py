"""Keeps users and chats outside the allowlists out of every handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Chat, InlineQuery, Message, TelegramObject, User
from aiogram.utils.i18n import I18n

from bot.core.limits import AccessRules
from bot.telegram.texts import Texts


class AccessMiddleware(BaseMiddleware):
    """Drops updates from users and chats outside the allowlists, saying why where a person
    asked directly (a private message, a button, an inline query)."""

    def __init__(self, rules: AccessRules, texts: Texts) -> None:
        self._rules = rules
        self._texts = texts

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        if self._rules.allows(user.id if user else None, chat.id if chat else None):
            return await handler(event, data)
        if isinstance(event, Message) and event.successful_payment is not None:
            return await handler(event, data)  # paid already: the credits are the user's
        i18n: I18n = data["i18n"]
        text = self._texts.get(i18n.current_locale, "access.denied")
        # (A guest message's chat is not the bot's: it is answered only by answerGuestQuery.)
        if isinstance(event, Message) and event.chat.type == "private" and not event.guest_query_id:
            await event.answer(text)
        elif isinstance(event, CallbackQuery):
            await event.answer(text, show_alert=True)
        elif isinstance(event, InlineQuery):
            await event.answer([], cache_time=60, is_personal=True)
        return None
