"""Who may use the bot, and how much: allowlists, admins, per-user concurrent and daily limits.

Counters live in the job store, so the limits hold across instances when Redis is on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.core.errors import StoreUnavailable
from bot.core.limits import DAY, AccessRules, Refusal, day_of
from bot.storage.base import JobStore

log = logging.getLogger(__name__)


class Quotas:
    def __init__(
        self,
        store: JobStore,
        rules: AccessRules,
        *,
        max_concurrent: int,
        daily_quota: int,
        slot_ttl: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._rules = rules
        self._max_concurrent = max_concurrent
        self._daily_quota = daily_quota
        self._slot_ttl = slot_ttl
        self._clock = clock

    async def admit(self, user_id: int, job_id: str, pictures: int = 1) -> Refusal | None:
        """Count a new request against the user's limits, once for the concurrent limit and
        `pictures` times for the daily quota; admins are exempt."""
        if self._rules.is_admin(user_id):
            return None
        now = self._clock()
        day = day_of(now)
        try:
            reason = await self._store.admit(
                user_id,
                job_id,
                day=day,
                max_concurrent=self._max_concurrent,
                daily_quota=self._daily_quota,
                slot_ttl=self._slot_ttl,
                pictures=pictures,
            )
        except StoreUnavailable:
            log.warning("store unavailable: admitting without counting")
            return None
        if reason is None:
            return None
        reason, _, remaining = reason.partition(":")
        limit = self._max_concurrent if reason == "concurrent" else self._daily_quota
        return Refusal(reason, limit, (day + 1) * DAY - now, int(remaining or 0))
