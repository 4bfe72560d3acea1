"""Buttons under pictures (Again, Original), albums (📄 N, 🔁) and status messages (Cancel).

Every press is answered once (Telegram refuses a second answer); the work goes to the
service, and every generation a press starts passes `ArtService.admit` first.

Who may press Again, Original, 📄 N and 🔁: anybody who sees the picture, paying with their
own quota, but only under that picture (`Job.under`: its chat, or its inline message); a
job id brought anywhere else is out of date. Cancel is the requester's (or, for a group's
anonymous request, its admins').
"""

from contextlib import suppress

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import I18n

from bot.core.jobs import Job
from bot.core.limits import Refusal
from bot.services.art import STATUS_GRACE, ArtService, CancelResult
from bot.telegram.identity import is_group_admin
from bot.telegram.keyboards import Action, JobAction, VariantAction, status_keyboard
from bot.telegram.pressed import PressedButtons
from bot.telegram.texts import Texts


async def _answer(query: CallbackQuery, text: str, *, show_alert: bool = False) -> None:
    """Answer the press; one already answered (an update delivered again) or too old
    is refused by Telegram, which changes nothing for the user."""
    with suppress(TelegramBadRequest):
        await query.answer(text, show_alert=show_alert)


async def _refuse(query: CallbackQuery, texts: Texts, locale: str, refusal: Refusal) -> None:
    if not refusal.silent:
        await _answer(query, texts.refusal(locale, refusal), show_alert=True)


async def cancel(
    query: CallbackQuery,
    callback_data: JobAction,
    art_service: ArtService,
    texts: Texts,
    i18n: I18n,
    bot: Bot,
) -> None:
    user_id = query.from_user.id
    result = await art_service.cancel(callback_data.job_id, user_id)
    chat = query.message.chat if query.message is not None else None
    if (
        result is CancelResult.NOT_YOURS
        and chat is not None
        and await is_group_admin(bot, chat, user_id)
    ):
        result = await art_service.cancel(callback_data.job_id, user_id, admin_of=chat.id)
    await _answer(query, texts.get(i18n.current_locale, f"callback.{result}"))


async def _finished_source(
    query: CallbackQuery,
    callback_data: JobAction | VariantAction,
    art_service: ArtService,
    texts: Texts,
    locale: str,
) -> Job | None:
    """The finished job of the pressed picture, or None after telling the user the button
    is out of date (also when the job is not the one of the picture pressed under)."""
    source = await art_service.finished_job(callback_data.job_id)
    chat_id = query.message.chat.id if query.message is not None else None
    if source is None or not source.under(
        chat_id=chat_id, inline_message_id=query.inline_message_id
    ):
        await _answer(query, texts.get(locale, "callback.stale"))
        return None
    return source


async def again(
    query: CallbackQuery,
    callback_data: JobAction,
    art_service: ArtService,
    texts: Texts,
    i18n: I18n,
    bot: Bot,
) -> None:
    locale = i18n.current_locale
    source = await _finished_source(query, callback_data, art_service, texts, locale)
    if source is None:
        return
    message = query.message
    if message is None and query.inline_message_id is None:
        await _answer(query, texts.get(locale, "callback.stale"))
        return
    job = art_service.again(
        source,
        chat_id=message.chat.id if message is not None else source.chat_id,
        user_id=query.from_user.id,
        locale=locale,
        reply_to_message_id=message.message_id if isinstance(message, Message) else None,
        job_id=art_service.job_ids.of("callback", query.id),
        inline_message_id=query.inline_message_id if message is None else None,
    )
    refusal = await art_service.admit(job)
    if refusal is not None:
        await _refuse(query, texts, locale, refusal)
        return
    keyboard = status_keyboard(texts, locale, job.id)
    if job.inline_message_id is not None:
        # The inline message holds the picture now: its caption, not a text, says so.
        try:
            await bot.edit_message_caption(
                inline_message_id=job.inline_message_id,
                caption=texts.status(job),
                reply_markup=keyboard,
            )
        except TelegramAPIError:
            await art_service.release(job)
            await _answer(query, texts.get(locale, "callback.stale"))
            return
        await _answer(query, texts.get(locale, "callback.again"))
        await art_service.start(job)
        return
    await _answer(query, texts.get(locale, "callback.again"))
    started = await art_service.start(job, status_grace=STATUS_GRACE)
    if started is None:
        return  # this press came twice
    if isinstance(message, InaccessibleMessage):  # too old to reply to: a new message
        status = await bot.send_message(job.chat_id, texts.status(started), reply_markup=keyboard)
    else:
        assert message is not None
        status = await message.reply(texts.status(started), reply_markup=keyboard)
    await art_service.attach_status(started, status.message_id)


async def original(
    query: CallbackQuery,
    callback_data: JobAction | VariantAction,
    art_service: ArtService,
    texts: Texts,
    i18n: I18n,
    pressed: PressedButtons,
) -> None:
    locale = i18n.current_locale
    source = await _finished_source(query, callback_data, art_service, texts, locale)
    if source is None:
        return
    variant = callback_data.index if isinstance(callback_data, VariantAction) else 0
    if not 0 <= variant < source.request.variants:
        await _answer(query, texts.get(locale, "callback.stale"))
        return
    message = query.message
    if isinstance(message, Message):
        chat_id, reply_to = message.chat.id, message.message_id
    elif message is not None:  # too old to reply to
        chat_id, reply_to = message.chat.id, None
    else:  # an inline message: the document goes to the presser's private chat
        chat_id, reply_to = query.from_user.id, None
    job_id = art_service.job_ids.of("callback", query.id)
    refusal = await art_service.original(
        source,
        chat_id=chat_id,
        user_id=query.from_user.id,
        locale=locale,
        reply_to_message_id=reply_to,
        job_id=job_id,
        variant=variant,
    )
    if refusal is not None:
        await _refuse(query, texts, locale, refusal)
        return
    await _answer(query, texts.get(locale, "callback.original"))
    if isinstance(message, Message) and query.data is not None:
        await pressed.hold(message, query.data, job_id)  # 📄 disabled while it is fetched


def create_router() -> Router:
    router = Router(name="buttons")
    router.callback_query.register(cancel, JobAction.filter(F.action == Action.CANCEL))
    router.callback_query.register(again, JobAction.filter(F.action == Action.AGAIN))
    router.callback_query.register(original, JobAction.filter(F.action == Action.ORIGINAL))
    router.callback_query.register(original, VariantAction.filter())
    return router
