"""Who asked: the key every per-user feature is kept under (limits, quota, ownership,
Cancel, /history, /forget, /settings).

Messages from a group's anonymous admins and those sent on behalf of a channel carry one
placeholder `from` user for everybody (GroupAnonymousBot 1087968824, Channel_Bot 136817688);
the chat they speak for is `sender_chat`, so that chat is the key. Presses are never
anonymous: a button made for a group's key may be pressed by that group's admins, there.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import ClientDecodeError, TelegramAPIError
from aiogram.types import CallbackQuery, Chat, Message

_ADMINS = frozenset({ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR})
_GROUPS = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})


def sender_key(message: Message) -> int:
    """The chat a message speaks for, else its user, else its chat."""
    if message.sender_chat is not None:
        return message.sender_chat.id
    return message.from_user.id if message.from_user is not None else message.chat.id


async def may_act_for(bot: Bot, query: CallbackQuery, owner: int) -> bool:
    """Whether a press may act for `owner`, the key its button was made for: the owner
    pressing it, or, when the key is a group (its anonymous admins'), one of the group's
    admins pressing it in that group."""
    if query.from_user.id == owner:
        return True
    chat = query.message.chat if query.message is not None else None
    if chat is None or chat.id != owner:
        return False
    return await is_group_admin(bot, chat, query.from_user.id)


async def is_group_admin(bot: Bot, chat: Chat, user_id: int) -> bool:
    """Whether the user administers the group (and so speaks for it when anonymous)."""
    if chat.type not in _GROUPS:
        return False
    try:
        member = await bot.get_chat_member(chat.id, user_id)
    except (TelegramAPIError, ClientDecodeError):
        return False
    return member.status in _ADMINS
