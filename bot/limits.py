"""Who may use the bot, and how much: allowlists, admins, per-user concurrent and daily limits.

Counters live in the job store, so the limits hold across instances when Redis is on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.store import JobStore, StoreUnavailable

log = logging.getLogger(__name__)

DAY = 86400


@dataclass(frozen=True)
class AccessRules:
    allowed_users: frozenset[int] = frozenset()
    allowed_chats: frozenset[int] = frozenset()
    admins: frozenset[int] = frozenset()

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.admins

    def allows(self, user_id: int | None, chat_id: int | None) -> bool:
        """Empty allowlists let everyone in; otherwise the user or the chat must be listed."""
        if not self.allowed_users and not self.allowed_chats:
            return True
        if user_id is not None and (user_id in self.admins or user_id in self.allowed_users):
            return True
        return chat_id is not None and chat_id in self.allowed_chats


@dataclass(frozen=True)
class Refusal:
    reason: str  # "concurrent" or "daily"
    limit: int
    resets_in: float  # seconds to the next UTC midnight, when the daily quota resets


def day_of(now: float) -> int:
    return int(now // DAY)


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

    async def admit(self, user_id: int, job_id: str) -> Refusal | None:
        """Count a new generation against the user's limits; admins are exempt."""
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
            )
        except StoreUnavailable:
            log.warning("store unavailable: admitting without counting")
            return None
        if reason is None:
            return None
        limit = self._max_concurrent if reason == "concurrent" else self._daily_quota
        return Refusal(reason, limit, (day + 1) * DAY - now)
