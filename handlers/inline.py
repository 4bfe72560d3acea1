"""Inline mode: `@bot a green owl --ratio 16:9` in any chat.

The answer is an article with a keyboard (so Telegram reports `inline_message_id`); when the
user picks it, generation starts and the inline message is later edited into the photo.
The job id and seed travel in the result id, so nothing is stored for results not chosen.
"""

from aiogram import Bot, Router
from aiogram.types import (
    ChosenInlineResult,
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
)
from aiogram.utils.i18n import I18n

from bot.core.prompt import PromptError
from bot.services.art import ArtService, new_job_id
from bot.telegram.keyboards import status_keyboard
from bot.telegram.texts import Texts

# Each answer has a fresh seed; let Telegram keep it only briefly, per user.
CACHE_SECONDS = 5


async def inline_query(
    query: InlineQuery, art_service: ArtService, texts: Texts, i18n: I18n
) -> None:
    locale = i18n.current_locale
    if not query.query.strip():
        await query.answer(
            [],
            cache_time=CACHE_SECONDS,
            is_personal=True,
            button=InlineQueryResultsButton(
                text=texts.get(locale, "inline.hint"), start_parameter="help"
            ),
        )
        return
    try:
        request = await art_service.parse(query.from_user.id, query.query)
        if request.variants > 1:  # an inline message holds one picture
            raise PromptError("inline_variants")
    except PromptError as error:
        message = texts.prompt_error(locale, error)
        result = InlineQueryResultArticle(
            id="error",
            title=texts.get(locale, "inline.error_title"),
            description=texts.plain(message),
            input_message_content=InputTextMessageContent(message_text=message),
        )
        await query.answer([result], cache_time=CACHE_SECONDS, is_personal=True)
        return
    job = art_service.new_job(
        request,
        chat_id=query.from_user.id,
        user_id=query.from_user.id,
        locale=locale,
        job_id=new_job_id(),
    )
    result = InlineQueryResultArticle(
        id=f"{job.id}:{job.seed}",
        title=texts.get(locale, "inline.title", prompt=request.text),
        description=texts.inline_description(job),
        input_message_content=InputTextMessageContent(message_text=texts.status(job)),
        reply_markup=status_keyboard(texts, locale, job.id),
    )
    await query.answer([result], cache_time=CACHE_SECONDS, is_personal=True)


async def chosen(
    chosen_result: ChosenInlineResult,
    art_service: ArtService,
    texts: Texts,
    i18n: I18n,
    bot: Bot,
) -> None:
    job_id, _, seed = chosen_result.result_id.partition(":")
    inline_message_id = chosen_result.inline_message_id
    if inline_message_id is None or not seed.isdigit():
        return  # the error article, or inline feedback without a keyboard
    user_id = chosen_result.from_user.id
    try:
        request = await art_service.parse(user_id, chosen_result.query)
    except PromptError:
        return
    if request.variants > 1:
        return  # never offered
    job = art_service.inline_job(
        request,
        job_id=job_id,
        seed=int(seed),
        user_id=user_id,
        locale=i18n.current_locale,
        inline_message_id=inline_message_id,
    )
    refusal = await art_service.admit(job)
    if refusal is not None:
        # A result chosen twice makes a second inline message: it is told, never left
        # saying "Generating…"; the same report delivered again is already answered.
        if not refusal.silent:
            text = texts.refusal(i18n.current_locale, refusal)
            await bot.edit_message_text(text, inline_message_id=inline_message_id)
        return
    await art_service.start(job)


def create_router() -> Router:
    router = Router(name="inline")
    router.inline_query.register(inline_query)
    router.chosen_inline_result.register(chosen)
    return router
