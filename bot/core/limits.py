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


# Why a generation was not admitted. The user is told each, except a duplicate (the same
# update delivered again), which is already being answered.
DENIED = "denied"  # outside the allowlists
CONCURRENT = "concurrent"  # too many generations in progress
DAILY = "daily"  # the daily quota is spent
PICTURES = "pictures"  # fewer pictures remain today than the request asks for
BUSY = "busy"  # the same job (an Original of this picture) is already on its way
DUPLICATE = "duplicate"  # this very job exists already
REUSED = "reused"  # an inline result chosen again: its job belongs to the first message
# The free quota is spent and the user has fewer credits than the request costs (`limit`).
CREDITS = "credits"


@dataclass(frozen=True)
class Refusal:
    reason: str  # one of the reasons above
    limit: int = 0
    resets_in: float = 0.0  # seconds to the next UTC midnight, when the daily quota resets
    remaining: int = 0  # pictures left today, for PICTURES

    @property
    def silent(self) -> bool:
        return self.reason == DUPLICATE


def is_chat_key(key: int) -> bool:
    """Whether a user key is a chat (a message sent on behalf of a group or channel): Bot
    API chat ids are negative, user ids positive."""
    return key < 0


def day_of(now: float) -> int:
    return int(now // DAY)
