"""Per-user preferences from /settings: default ratio, enhancement, interface language.

Read on every update (the language decides every text), so each instance keeps them for a
few seconds; a change made here is seen here at once, elsewhere within `ttl`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from bot.core.errors import StoreUnavailable
from bot.core.prefs import DEFAULT_PREFS, UserPrefs, dump_prefs, parse_prefs
from bot.storage.base import JobStore

log = logging.getLogger(__name__)


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
        prefs = parse_prefs(raw)
        self._remember(user_id, prefs)
        return prefs

    async def update(self, user_id: int, **changes: Any) -> UserPrefs:
        prefs = UserPrefs(**{**asdict(await self.get(user_id)), **changes})
        await self._store.user_put(user_id, dump_prefs(prefs))
        self._remember(user_id, prefs)
        return prefs

    def forget_local(self, user_id: int) -> None:
        """The user's settings were deleted from the store: stop serving this copy."""
        self._local.pop(user_id, None)

    def _remember(self, user_id: int, prefs: UserPrefs) -> None:
        if len(self._local) >= self._max_entries:
            self._local.clear()
        self._local[user_id] = (prefs, self._clock() + self._ttl)
