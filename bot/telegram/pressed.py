"""A 📄 button shown disabled (Bot API 10.3 `DisabledButton`) while the original it asked
for is being fetched, so nobody presses it again meanwhile; enabled again once that job has
ended, or at shutdown. Best effort: a keyboard Telegram will not edit stays as it was."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import DisabledButton, InlineKeyboardButton, InlineKeyboardMarkup, Message

log = logging.getLogger(__name__)

EDIT_TIMEOUT = 10.0


def with_disabled(markup: InlineKeyboardMarkup, data: str) -> InlineKeyboardMarkup | None:
    """`markup` with the button of callback data `data` disabled; None without one."""
    found = False
    rows = []
    for row in markup.inline_keyboard:
        new_row = []
        for button in row:
            if button.callback_data == data:
                found = True
                button = InlineKeyboardButton(
                    text=button.text,
                    style=button.style,
                    icon_custom_emoji_id=button.icon_custom_emoji_id,
                    disabled=DisabledButton(),
                )
            new_row.append(button)
        rows.append(new_row)
    return InlineKeyboardMarkup(inline_keyboard=rows) if found else None


class PressedButtons:
    def __init__(
        self, bot: Bot, *, active: Callable[[str], Awaitable[bool]], check_every: float = 1.0
    ) -> None:
        """`active(job_id)`: whether the job the press started is still going."""
        self._bot = bot
        self._active = active
        self._check_every = check_every
        self._held: dict[asyncio.Task[None], tuple[int, int, InlineKeyboardMarkup]] = {}
        self._restoring: set[asyncio.Task[bool]] = set()

    async def hold(self, message: Message, data: str, job_id: str) -> None:
        """Disable the button `data` of `message` until job `job_id` has ended."""
        markup = message.reply_markup
        disabled = with_disabled(markup, data) if markup is not None else None
        if markup is None or disabled is None:
            return
        chat_id, message_id = message.chat.id, message.message_id
        if not await self._edit(chat_id, message_id, disabled):
            return
        task = asyncio.create_task(self._release_after(job_id), name=f"pressed-{job_id}")
        self._held[task] = (chat_id, message_id, markup)
        task.add_done_callback(self._done)

    async def _release_after(self, job_id: str) -> None:
        """Polls the store: the job ends on another instance as often as on this one."""
        while True:
            await asyncio.sleep(self._check_every)
            if not await self._active(job_id):
                return

    def _done(self, task: asyncio.Task[None]) -> None:
        chat_id, message_id, markup = self._held.pop(task)
        if not task.cancelled():
            restore = asyncio.create_task(self._edit(chat_id, message_id, markup))
            self._restoring.add(restore)
            restore.add_done_callback(self._restoring.discard)

    async def _edit(self, chat_id: int, message_id: int, markup: InlineKeyboardMarkup) -> bool:
        try:
            await asyncio.wait_for(
                self._bot.edit_message_reply_markup(
                    chat_id=chat_id, message_id=message_id, reply_markup=markup
                ),
                EDIT_TIMEOUT,
            )
        except (TelegramAPIError, TimeoutError) as exc:
            log.info("keyboard not edited: %s", type(exc).__name__)
            return False
        return True

    async def close(self) -> None:
        """At shutdown: every held button is enabled again (a restart must not leave 📄
        disabled for good)."""
        held = list(self._held.items())
        for task, _ in held:
            task.remove_done_callback(self._done)
            task.cancel()
        self._held.clear()
        await asyncio.gather(*(t for t, _ in held), *self._restoring, return_exceptions=True)
        await asyncio.gather(
            *(self._edit(chat_id, message_id, markup) for _, (chat_id, message_id, markup) in held)
        )
