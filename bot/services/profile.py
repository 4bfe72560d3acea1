"""What Telegram shows about the bot, from the catalogs: the command list, the description
(in an empty chat) and the short description (profile page), per language.

Telegram limits how often these methods may be called, and a bot restarts often (deploys,
crashes, several instances): each is sent only when its content changed, remembered as a
hash in the store (shared by instances with Redis)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import suppress

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import SetMyCommands, SetMyDescription, SetMyShortDescription
from aiogram.types import BotCommand

from bot.core.errors import StoreUnavailable
from bot.storage.base import JobStore
from bot.telegram.texts import Texts

log = logging.getLogger(__name__)

KEY_PREFIX = "telegram-profile:"
# Long enough that restarts never resend; short enough that an edit made by hand in
# @BotFather is put right again within a month.
HASH_TTL = 30 * 86400.0

ProfileMethod = SetMyCommands | SetMyDescription | SetMyShortDescription


class BotProfile:
    def __init__(
        self,
        store: JobStore,
        texts: Texts,
        *,
        commands: Sequence[str],
        default_locale: str,
        ephemeral: frozenset[str] = frozenset(),
    ) -> None:
        """`ephemeral`: commands whose answer only their sender sees (Bot API 10.2
        `is_ephemeral`; in groups Telegram shows the command to the bot alone too)."""
        self._ephemeral = ephemeral
        self._store = store
        self._texts = texts
        self._commands = tuple(commands)
        self._default_locale = default_locale

    def methods(self) -> Iterator[ProfileMethod]:
        """Every call, per locale; the default locale's also serve users of other languages."""
        for locale in self._texts.locales:
            language = None if locale == self._default_locale else locale
            commands = [
                BotCommand(
                    command=name,
                    description=self._texts.get(locale, f"cmd.{name}"),
                    is_ephemeral=True if name in self._ephemeral else None,
                )
                for name in self._commands
            ]
            yield SetMyCommands(commands=commands, language_code=language)
            yield SetMyDescription(
                description=self._texts.get(locale, "bot.description"), language_code=language
            )
            yield SetMyShortDescription(
                short_description=self._texts.get(locale, "bot.short_description"),
                language_code=language,
            )

    async def apply(self, bot: Bot) -> int:
        """Send what changed since the last start; returns how many calls were made. A call
        Telegram refuses is logged and tried again at the next start."""
        sent = 0
        for method in self.methods():
            language = method.language_code or "default"
            key = f"{KEY_PREFIX}{method.__api_method__}:{language}"
            digest = hashlib.sha256(method.model_dump_json().encode()).hexdigest()
            if await self._known(key) == digest:
                continue
            try:
                await bot(method)
            except TelegramAPIError as exc:
                log.warning(
                    "%s (%s) not set: %s", method.__api_method__, language, type(exc).__name__
                )
                continue
            sent += 1
            with suppress(StoreUnavailable):
                await self._store.cache_put(key, digest, HASH_TTL)
        return sent

    async def _known(self, key: str) -> str | None:
        try:
            return await self._store.cache_get(key)
        except StoreUnavailable:
            return None  # sent again: harmless, and the store may be back next time
