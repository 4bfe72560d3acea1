"""/history (the last requests, each with a button repeating it exactly) and /forget
(everything the bot keeps about the user, after a confirm button). Both are the sender's
(`sender_key`); in a group a person's /history is shown to them alone, never to the group."""

from contextlib import suppress

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot.services.art import STATUS_GRACE, ArtService
from bot.services.history import HistoryService
from bot.telegram.identity import may_act_for, sender_key
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
    """In a group only the asker sees their list (an ephemeral message, see Notices); where
    it cannot be ephemeral, one line says /history is for a private chat, since a person's
    list holds their private prompts. A chat's own list (its anonymous admins', a
    channel's) holds requests made in public and is shown as it is."""
    user_id = sender_key(message)
    entries = await history.recent(user_id)
    keyboard = history_keyboard([entry.id for entry in entries], user_id) if entries else None
    text = texts.history(i18n.current_locale, entries)
    private = None
    if message.sender_chat is None:
        private = texts.get(i18n.current_locale, "history.private_only")
    await notices.reply(message, text, reply_markup=keyboard, quote=False, not_ephemeral=private)


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
    owner = callback_data.owner
    if not await may_act_for(bot, query, owner):
        await _answer(query, texts.get(locale, "callback.someone_elses"), show_alert=True)
        return
    entry = await history.entry(owner, callback_data.entry_id)
    listing = query.message if isinstance(query.message, Message) else None
    if entry is None or listing is None:
        await query.answer(texts.get(locale, "callback.stale"))
        return
    ephemeral = listing.ephemeral_message_id is not None
    job = art_service.repeat(
        entry,
        chat_id=listing.chat.id,
        user_id=owner,
        locale=locale,
        # An ephemeral list (message_id 0) cannot be replied to: the status is a new message.
        reply_to_message_id=None if ephemeral else listing.message_id,
        job_id=art_service.job_ids.of("callback", query.id),
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
        texts.forget(locale, "forget.confirm"), reply_markup=forget_keyboard(texts, locale, user_id)
    )


async def forget_confirmed(
    query: CallbackQuery,
    callback_data: ForgetAction,
    history: HistoryService,
    texts: Texts,
    i18n: I18n,
    bot: Bot,
) -> None:
    locale = i18n.current_locale
    if not await may_act_for(bot, query, callback_data.user_id):
        await query.answer(texts.get(locale, "forget.not_yours"), show_alert=True)
        return
    if not await history.forget(callback_data.user_id):
        await query.answer(texts.get(locale, "forget.busy"), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(texts.forget(locale, "forget.done"))


def create_router() -> Router:
    router = Router(name="history")
    router.message.register(show, Command("history"))
    router.message.register(forget, Command("forget"))
    router.callback_query.register(repeat, HistoryAction.filter())
    router.callback_query.register(forget_confirmed, ForgetAction.filter())
    return router
