"""Buttons under pictures (Again, Original), albums (📄 N, 🔁) and status messages (Cancel).

Every press is answered at once; the work goes to the service.
"""

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot.core.jobs import Job
from bot.services.art import STATUS_GRACE, ArtService, request_job_id
from bot.telegram.keyboards import Action, JobAction, VariantAction, status_keyboard
from bot.telegram.texts import Texts


async def cancel(
    query: CallbackQuery,
    callback_data: JobAction,
    art_service: ArtService,
    texts: Texts,
    i18n: I18n,
) -> None:
    result = await art_service.cancel(callback_data.job_id, query.from_user.id)
    await query.answer(texts.get(i18n.current_locale, f"callback.{result}"))


async def _finished_source(
    query: CallbackQuery,
    callback_data: JobAction,
    art_service: ArtService,
    texts: Texts,
    locale: str,
) -> Job | None:
    """The job under the pressed picture, or None after telling the user it is gone."""
    source = await art_service.finished_job(callback_data.job_id)
    if source is None:
        await query.answer(texts.get(locale, "callback.stale"))
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
    picture = query.message if isinstance(query.message, Message) else None
    job = art_service.again(
        source,
        chat_id=picture.chat.id if picture else source.chat_id,
        user_id=query.from_user.id,
        locale=locale,
        reply_to_message_id=picture.message_id if picture else None,
        job_id=request_job_id("callback", query.id),
    )
    refusal = await art_service.admit(job)
    if refusal is not None:
        await query.answer(texts.refusal(locale, refusal), show_alert=True)
        return
    await query.answer(texts.get(locale, "callback.again"))
    keyboard = status_keyboard(texts, locale, job.id)
    if picture is not None:
        started = await art_service.start(job, status_grace=STATUS_GRACE)
        if started is None:
            return  # this press came twice
        status = await picture.reply(texts.status(started), reply_markup=keyboard)
        await art_service.attach_status(started, status.message_id)
    elif query.inline_message_id is not None:
        job = job.but(inline_message_id=query.inline_message_id)
        await bot.edit_message_text(
            texts.status(job), inline_message_id=query.inline_message_id, reply_markup=keyboard
        )
        await art_service.start(job)


async def original(
    query: CallbackQuery,
    callback_data: JobAction | VariantAction,
    art_service: ArtService,
    texts: Texts,
    i18n: I18n,
) -> None:
    locale = i18n.current_locale
    source = await art_service.finished_job(callback_data.job_id)
    variant = callback_data.index if isinstance(callback_data, VariantAction) else 0
    if source is None or not 0 <= variant < source.request.variants:
        await query.answer(texts.get(locale, "callback.stale"))
        return
    await query.answer(texts.get(locale, "callback.original"))
    picture = query.message
    if isinstance(picture, Message):
        chat_id, reply_to = picture.chat.id, picture.message_id
    else:  # an inline message: the document goes to the presser's private chat
        chat_id, reply_to = query.from_user.id, None
    await art_service.original(
        source,
        chat_id=chat_id,
        user_id=query.from_user.id,
        locale=locale,
        reply_to_message_id=reply_to,
        job_id=request_job_id("callback", query.id),
        variant=variant,
    )


def create_router() -> Router:
    router = Router(name="buttons")
    router.callback_query.register(cancel, JobAction.filter(F.action == Action.CANCEL))
    router.callback_query.register(again, JobAction.filter(F.action == Action.AGAIN))
    router.callback_query.register(original, JobAction.filter(F.action == Action.ORIGINAL))
    router.callback_query.register(original, VariantAction.filter())
    return router
