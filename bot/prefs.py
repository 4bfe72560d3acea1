"""Per-user preferences from /settings: default ratio, enhancement, interface language.

Read on every update (the language decides every text), so each instance keeps them for a
few seconds; a change made here is seen here at once, elsewhere within `ttl`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, SimpleI18nMiddleware

from bot.prompt import SQUARE, Defaults, Ratio
from bot.store import JobStore, StoreUnavailable

log = logging.getLogger(__name__)

RATIO_CHOICES = ("1:1", "16:9", "9:16", "4:3", "3:4", "2:1")
MAX_LANGUAGE_CODES = 1000


@dataclass(frozen=True)
class UserPrefs:
    ratio: str = str(SQUARE)
    enhance: bool = False
    language: str | None = None  # None: Telegram's language_code

    @property
    def defaults(self) -> Defaults:
        return _defaults(self.ratio, self.enhance)


# Shared by every user without saved settings (most users), rather than one each.
DEFAULT_PREFS = UserPrefs()


@lru_cache(maxsize=64)
def _defaults(ratio: str, enhance: bool) -> Defaults:
    """One instance per value: each pending job's request keeps its Ratio."""
    width, height = (int(side) for side in ratio.split(":"))
    return Defaults(ratio=Ratio(width, height), enhance=enhance)


class PrefsService:
    def __init__(
        self,
        store: JobStore,
        *,
        ttl: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._local: dict[int, tuple[UserPrefs, float]] = {}

    async def get(self, user_id: int) -> UserPrefs:
        cached = self._local.get(user_id)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        try:
            raw = await self._store.user_get(user_id)
        except StoreUnavailable:
            return cached[0] if cached else DEFAULT_PREFS
        prefs = _parse(raw)
        self._remember(user_id, prefs)
        return prefs

    async def update(self, user_id: int, **changes: Any) -> UserPrefs:
        prefs = UserPrefs(**{**asdict(await self.get(user_id)), **changes})
        await self._store.user_put(user_id, json.dumps(asdict(prefs)))
        self._remember(user_id, prefs)
        return prefs

    def _remember(self, user_id: int, prefs: UserPrefs) -> None:
        if len(self._local) >= self._max_entries:
            self._local.clear()
        self._local[user_id] = (prefs, self._clock() + self._ttl)


def _parse(raw: str | None) -> UserPrefs:
    if raw is None:
        return DEFAULT_PREFS
    try:
        data = json.loads(raw)
        prefs = UserPrefs(**{k: data[k] for k in ("ratio", "enhance", "language") if k in data})
        _ = prefs.defaults  # a ratio that does not parse falls back to the defaults
    except (ValueError, TypeError):
        log.warning("unreadable user preferences, using defaults")
        return DEFAULT_PREFS
    return prefs


class PrefsI18nMiddleware(SimpleI18nMiddleware):
    """The language chosen in /settings, else Telegram's `language_code` (aiogram's
    SimpleI18nMiddleware), else English."""

    def __init__(self, i18n: I18n, prefs: PrefsService) -> None:
        super().__init__(i18n)
        self._prefs = prefs
        # Telegram's language_code → our locale, rather than Babel parsing it per update.
        self._by_code: dict[str | None, str] = {}

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await super().get_locale(event, data)
        chosen = (await self._prefs.get(user.id)).language
        if chosen in self.i18n.available_locales:
            return chosen
        locale = self._by_code.get(user.language_code)
        if locale is None:
            locale = await super().get_locale(event, data)
            if len(self._by_code) >= MAX_LANGUAGE_CODES:  # codes come from clients
                self._by_code.clear()
            self._by_code[user.language_code] = locale
        return locale
