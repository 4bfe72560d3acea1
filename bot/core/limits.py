"""Who may use the bot and how a refusal is described: pure rules, no storage."""

from __future__ import annotations

from dataclasses import dataclass

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
    reason: str  # "concurrent", "daily", or "pictures" (fewer remain than were asked for)
    limit: int
    resets_in: float  # seconds to the next UTC midnight, when the daily quota resets
    remaining: int = 0  # pictures left today, for "pictures"


def day_of(now: float) -> int:
    return int(now // DAY)
