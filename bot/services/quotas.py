"""Who may use the bot, and how much: allowlists, admins, per-user concurrent and daily limits.

Counters live in the job store, so the limits hold across instances when Redis is on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.core.errors import StoreUnavailable
from bot.core.limits import CONCURRENT, DAILY, DAY, DENIED, AccessRules, Refusal, day_of
from bot.storage.base import JobStore

log = logging.getLogger(__name__)


# Admins have no limits, yet their slots still tell when the same job is on its way.
UNLIMITED = 2**31 - 1


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

    def allows(self, user_id: int, chat_id: int | None) -> bool:
        return self._rules.allows(user_id, chat_id)

    async def admit(
        self,
        user_id: int,
        slot: str,
        *,
        chat_id: int | None,
        pictures: int = 1,
        charge: bool = True,
    ) -> Refusal | None:
        """Let a generation in: the allowlists, then a slot among the user's generations in
        progress (a request counts once) and (with `charge`) `pictures` of the day's.
        Admins pass every limit."""
        if not self._rules.allows(user_id, chat_id):
            return Refusal(DENIED)
        admin = self._rules.is_admin(user_id)
        now = self._clock()
        day = day_of(now)
        try:
            reason = await self._store.admit(
                user_id,
                slot,
                day=day,
                max_concurrent=UNLIMITED if admin else self._max_concurrent,
                daily_quota=None if admin or not charge else self._daily_quota,
                slot_ttl=self._slot_ttl,
                pictures=pictures,
            )
        except StoreUnavailable:
            log.warning("store unavailable: admitting without counting")
            return None
        return None if reason is None else self._refusal(reason, now)

    async def charge(self, user_id: int) -> Refusal | None:
        """Count a generation the job did not count when admitted (an Original Yandex had
        dropped, drawn again)."""
        if self._rules.is_admin(user_id):
            return None
        now = self._clock()
        try:
            counted = await self._store.count_day(
                user_id, day=day_of(now), daily_quota=self._daily_quota
            )
        except StoreUnavailable:
            log.warning("store unavailable: drawing again without counting")
            return None
        return None if counted else self._refusal(DAILY, now)

    async def give_back(self, user_id: int, pictures: int) -> None:
        """Uncount pictures admitted today that will never be drawn (a voice not heard).
        Read at the end of the recognition: one that crosses midnight gives back the new
        day's, in the user's favour."""
        if self._rules.is_admin(user_id):
            return
        try:
            await self._store.uncount_day(user_id, day=day_of(self._clock()), pictures=pictures)
        except StoreUnavailable:
            log.warning("store unavailable: counted pictures not given back")

    async def free_left(self, user_id: int) -> int | None:
        """The free pictures the user has left today; None: no limit (an admin)."""
        if self._rules.is_admin(user_id):
            return None
        used = await self._store.day_count(user_id, day=day_of(self._clock()))
        return max(0, self._daily_quota - used)

    def _refusal(self, verdict: str, now: float) -> Refusal:
        """The store's verdict as a refusal: "pictures:<remaining>" carries what remains."""
        reason, _, remaining = verdict.partition(":")
        limit = self._max_concurrent if reason == CONCURRENT else self._daily_quota
        return Refusal(reason, limit, (day_of(now) + 1) * DAY - now, int(remaining or 0))
