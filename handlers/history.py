"""/history (the last requests, each with a button repeating it exactly) and /forget
(everything the bot keeps about the user, after a confirm button)."""

from contextlib import suppress

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot.services.art import STATUS_GRACE, ArtService, request_job_id
from bot.services.history import HistoryService
from bot.telegram.identity import sender_key
from bot.telegram.keyboards import (
    ForgetAction,
    HistoryAction,
    forget_keyboard,
    history_keyboard,
    status_keyboard,
)
from bot.telegram.notices import Notices
from bot.telegram.texts import Texts


async def show(
    message: Message, history: HistoryService, texts: Texts, i18n: I18n, notices: Notices
) -> None:
    """In a group only the asker sees the list (an ephemeral message, see Notices)."""
    user_id = sender_key(message)
    entries = await history.recent(user_id)
    keyboard = history_keyboard([entry.id for entry in entries]) if entries else None
    text = texts.history(i18n.current_locale, entries)
    await notices.reply(message, text, reply_markup=keyboard, quote=False)


async def repeat(
    query: CallbackQuery,
    callback_data: HistoryAction,
    history: HistoryService,
    art_service: ArtService,
    texts: Texts,
    i18n: I18n,
    bot: Bot,
) -> None:
    locale = i18n.current_locale
    entry = await history.entry(query.from_user.id, callback_data.entry_id)
    listing = query.message if isinstance(query.message, Message) else None
    if entry is None or listing is None:
        await query.answer(texts.get(locale, "callback.stale"))
        return
    ephemeral = listing.ephemeral_message_id is not None
    job = art_service.repeat(
        entry,
        chat_id=listing.chat.id,
        user_id=query.from_user.id,
        locale=locale,
        # An ephemeral list (message_id 0) cannot be replied to: the status is a new message.
        reply_to_message_id=None if ephemeral else listing.message_id,
        job_id=request_job_id("callback", query.id),
    )
    refusal = await art_service.admit(job)
    if refusal is not None:
        if not refusal.silent:
            await _answer(query, texts.refusal(locale, refusal), show_alert=True)
        return
    await _answer(query, texts.get(locale, "history.repeating"))
    started = await art_service.start(job, status_grace=STATUS_GRACE)
    if started is None:
        return  # this press came twice
    keyboard = status_keyboard(texts, locale, started.id)
    if ephemeral:
        status = await bot.send_message(
            listing.chat.id, texts.status(started), reply_markup=keyboard
        )
    else:
        status = await listing.reply(texts.status(started), reply_markup=keyboard)
    await art_service.attach_status(started, status.message_id)


async def _answer(query: CallbackQuery, text: str, *, show_alert: bool = False) -> None:
    """Answer the press; Telegram refuses a second answer or a late one, which changes
    nothing for the request."""
    with suppress(TelegramBadRequest):
        await query.answer(text, show_alert=show_alert)


async def forget(message: Message, texts: Texts, i18n: I18n) -> None:
    locale = i18n.current_locale
    user_id = sender_key(message)
    await message.answer(
        texts.get(locale, "forget.confirm"), reply_markup=forget_keyboard(texts, locale, user_id)
    )


async def forget_confirmed(
    query: CallbackQuery,
    callback_data: ForgetAction,
    history: HistoryService,
    texts: Texts,
    i18n: I18n,
) -> None:
    locale = i18n.current_locale
    if callback_data.user_id != query.from_user.id:
        await query.answer(texts.get(locale, "forget.not_yours"), show_alert=True)
        return
    if not await history.forget(query.from_user.id):
        await query.answer(texts.get(locale, "forget.busy"), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(texts.get(locale, "forget.done"))


def create_router() -> Router:
    router = Router(name="history")
    router.message.register(show, Command("history"))
    router.message.register(forget, Command("forget"))
    router.callback_query.register(repeat, HistoryAction.filter())
    router.callback_query.register(forget_confirmed, ForgetAction.filter())
    return router
