"""What concerns only the requester goes to them alone, so a group that draws a lot stays a
conversation of pictures, not of bot notices.

In groups a notice is an ephemeral message (Bot API 10.2, `ephemeral_message_parameters`):
only the receiver sees it. Where Telegram refuses one (an older server, an anonymous admin
who has no user to receive it), it falls back to today's reply, deleted after `ttl` seconds.
In private chats it is a plain reply. Any feature (/balance, /buy, ...) answers through
`Notices.reply`.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from aiogram import Bot
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.methods import SendMessage
from aiogram.types import EphemeralMessageParameters, InlineKeyboardMarkup, Message

from bot.telegram.sent import send_for_id

log = logging.getLogger(__name__)

DELETE_TIMEOUT = 10.0


class Notices:
    def __init__(self, bot: Bot, ttl: float) -> None:
        self._bot = bot
        self._ttl = ttl
        self._deletions: set[asyncio.Task[None]] = set()

    async def reply(
        self,
        message: Message,
        text: str,
        *,
        reply_markup: InlineKeyboardMarkup | None = None,
        quote: bool = True,
        not_ephemeral: str | None = None,
    ) -> None:
        """Answer `message` so that only its sender sees it (see the module's docstring);
        where that cannot be, as a reply to it, or with `quote=False` as a message after it
        (as /help always was). In a group, `not_ephemeral` (without buttons) replaces a
        text that must not be seen by others when the ephemeral message is refused.
        Telegram's answer is read for the new message's id alone (bot.telegram.sent)."""
        if message.chat.type == ChatType.PRIVATE:
            await send_for_id(_answer(message, text, reply_markup, quote=quote))
            return
        user = message.from_user
        if user is not None and message.sender_chat is None:
            ephemeral = SendMessage(
                chat_id=message.chat.id,
                text=text,
                message_thread_id=message.message_thread_id if message.is_topic_message else None,
                reply_markup=reply_markup,
                ephemeral_message_parameters=EphemeralMessageParameters(receiver_user_id=user.id),
            ).as_(self._bot)
            try:
                await send_for_id(ephemeral)
                return
            except TelegramBadRequest:
                log.info("ephemeral message refused in a group; a reply deleted later instead")
        if not_ephemeral is not None:
            text, reply_markup = not_ephemeral, None
        # An ephemeral message cannot be replied to: answered after it instead.
        quote = quote and message.ephemeral_message_id is None
        sent = await send_for_id(_answer(message, text, reply_markup, quote=quote))
        self._delete_later(message.chat.id, sent.message_id)

    def _delete_later(self, chat_id: int, message_id: int) -> None:
        task = asyncio.create_task(self._delete(chat_id, message_id), name=f"notice-{message_id}")
        self._deletions.add(task)
        task.add_done_callback(self._deletions.discard)

    async def _delete(self, chat_id: int, message_id: int) -> None:
        await asyncio.sleep(self._ttl)
        # Already deleted by someone, or the bot lost its rights: the notice simply stays.
        with suppress(TelegramAPIError, TimeoutError):
            await asyncio.wait_for(self._bot.delete_message(chat_id, message_id), DELETE_TIMEOUT)

    async def close(self) -> None:
        """At shutdown: the notices not yet deleted stay in the chat."""
        for task in list(self._deletions):
            task.cancel()
        await asyncio.gather(*self._deletions, return_exceptions=True)


def _answer(
    message: Message, text: str, reply_markup: InlineKeyboardMarkup | None, *, quote: bool
) -> SendMessage:
    """A reply to `message`, or with `quote=False` a message after it (not sent yet)."""
    if quote:
        return message.reply(text, reply_markup=reply_markup)
    return message.answer(text, reply_markup=reply_markup)
