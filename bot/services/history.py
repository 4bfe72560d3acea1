"""/history and /forget: the user's past requests, kept for HISTORY_RETENTION in the store,
and deleting everything the bot keeps about a user."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.core.errors import StoreUnavailable
from bot.core.history import HISTORY_SHOWN, HistoryEntry, dump_entry, entry_of, parse_entry
from bot.core.jobs import Job
from bot.services.prefs import PrefsService
from bot.storage.base import HISTORY_KEEP, JobStore

log = logging.getLogger(__name__)


class HistoryService:
    def __init__(
        self,
        store: JobStore,
        prefs: PrefsService,
        *,
        retention: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._prefs = prefs
        self._retention = retention
        self._clock = clock

    async def record(self, job: Job) -> None:
        """A new request; losing it to a store outage only shortens the history."""
        if self._retention <= 0:
            return
        entry = entry_of(job)
        try:
            await self._store.history_add(
                job.user_id, entry.id, dump_entry(entry), entry.at, self._retention
            )
        except StoreUnavailable:
            log.info("job %s: store unavailable, not in the history", job.id)

    async def recent(self, user_id: int, limit: int = HISTORY_SHOWN) -> list[HistoryEntry]:
        since = self._clock() - self._retention
        raw = await self._store.history_get(user_id, since, limit)
        return [entry for entry in map(parse_entry, raw) if entry is not None]

    async def entry(self, user_id: int, entry_id: str) -> HistoryEntry | None:
        """One of the user's entries (only their own), while it is kept."""
        for entry in await self.recent(user_id, HISTORY_KEEP):
            if entry.id == entry_id:
                return entry
        return None

    async def forget(self, user_id: int) -> bool:
        """Everything about the user, from the store and this instance's settings cache;
        False while one of their pictures is still being made."""
        if not await self._store.forget_user(user_id):
            return False
        self._prefs.forget_local(user_id)
        return True
