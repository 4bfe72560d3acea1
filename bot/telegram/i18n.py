"""The interface language of each update."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.types import Message, TelegramObject, User
from aiogram.utils.i18n import I18n, SimpleI18nMiddleware

from bot.core.prefs import PrefsReader
from bot.telegram.identity import sender_key

MAX_LANGUAGE_CODES = 1000


class PrefsI18nMiddleware(SimpleI18nMiddleware):
    """The language chosen in /settings (by the sender: `sender_key`), else Telegram's
    `language_code` (aiogram's SimpleI18nMiddleware), else English."""

    def __init__(self, i18n: I18n, prefs: PrefsReader) -> None:
        super().__init__(i18n)
        self._prefs = prefs
        self._locales = frozenset(i18n.available_locales)  # (aiogram builds a tuple per call)
        # Telegram's language_code → our locale, rather than Babel parsing it per update.
        self._by_code: dict[str | None, str] = {}

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """aiogram's I18nMiddleware, without its two generator context managers per update:
        the same context variables set around the handler and reset after it."""
        locale = await self.get_locale(event, data) or self.i18n.default_locale
        if self.i18n_key:
            data[self.i18n_key] = self.i18n
        data[self.middleware_key] = self
        current = self.i18n.set_current(self.i18n)
        chosen = self.i18n.ctx_locale.set(locale)
        try:
            return await handler(event, data)
        finally:
            self.i18n.ctx_locale.reset(chosen)
            self.i18n.reset_current(current)

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await super().get_locale(event, data)
        key = sender_key(event) if isinstance(event, Message) else user.id
        chosen = (await self._prefs.get(key)).language
        if chosen in self._locales:
            return chosen
        locale = self._by_code.get(user.language_code)
        if locale is None:
            locale = await super().get_locale(event, data)
            if len(self._by_code) >= MAX_LANGUAGE_CODES:  # codes come from clients
                self._by_code.clear()
            self._by_code[user.language_code] = locale
        return locale
