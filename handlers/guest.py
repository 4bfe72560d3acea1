"""Guest mode (Bot API 10.0): a user summons the bot in a chat it is not a member of, e.g.
`@art_bot a green owl --ratio 16:9` or `/art@art_bot …`; the bot gets a `guest_message`
and answers it once with `answerGuestQuery`.

The answer is the status with its Cancel button, as an inline message; the picture then
replaces it, as in inline mode (the picture is drawn after the answer). Same admission,
limits and buttons as every other path; a refusal replaces the status.
"""

import re

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
)
from aiogram.utils.i18n import I18n

from bot.core.prompt import PromptError
from bot.services.art import ArtService
from bot.telegram.keyboards import status_keyboard
from bot.telegram.texts import Texts

_SUMMON = re.compile(r"^\s*(?:@\w+\s*)?(?:/art(?:@\w+)?(?:\s+|$))?", re.IGNORECASE)


def guest_prompt(text: str) -> str:
    """The `/art` arguments of a guest message: without the leading @mention of the bot
    and the `/art` command, if any."""
    match = _SUMMON.match(text)
    assert match is not None  # every part of the pattern is optional
    return text[match.end() :]


async def guest(
    message: Message, art_service: ArtService, texts: Texts, i18n: I18n, bot: Bot
) -> None:
    query_id, user = message.guest_query_id, message.from_user
    if query_id is None or user is None:
        return
    locale = i18n.current_locale
    replied = message.reply_to_message
    replied_text = (replied.text or replied.caption) if replied else None
    try:
        prompt = guest_prompt(message.text or message.caption or "")
        request = await art_service.parse(user.id, prompt, replied_text)
        if request.variants > 1:  # an inline message holds one picture
            raise PromptError("inline_variants")
    except PromptError as error:
        text = texts.prompt_error(locale, error)
        await _answer_once(bot, query_id, "error", text, texts.get(locale, "inline.error_title"))
        return
    job = art_service.new_job(
        request,
        chat_id=user.id,
        user_id=user.id,
        locale=locale,
        job_id=art_service.job_ids.of("guest", query_id),
    )
    title = texts.get(locale, "inline.title", prompt=request.text)
    inline_message_id = await _answer_once(
        bot, query_id, job.id, texts.status(job), title, status_keyboard(texts, locale, job.id)
    )
    if inline_message_id is None:
        return  # answered already (the update came twice) or too late: nothing to draw
    job = art_service.inline_job(
        request,
        job_id=job.id,
        seed=job.seed,
        user_id=user.id,
        locale=locale,
        inline_message_id=inline_message_id,
    )
    refusal = await art_service.admit(job)
    if refusal is not None:
        if not refusal.silent:
            text = texts.refusal(locale, refusal)
            await bot.edit_message_text(text, inline_message_id=inline_message_id)
        return
    await art_service.start(job)


async def _answer_once(
    bot: Bot,
    query_id: str,
    result_id: str,
    text: str,
    title: str,
    keyboard: InlineKeyboardMarkup | None = None,
) -> str | None:
    """The one answer; the inline message it became, None when Telegram refused it."""
    result = InlineQueryResultArticle(
        id=result_id,
        title=title,
        input_message_content=InputTextMessageContent(message_text=text),
        reply_markup=keyboard,
    )
    try:
        sent = await bot.answer_guest_query(guest_query_id=query_id, result=result)
    except TelegramBadRequest:
        return None
    return sent.inline_message_id


def create_router() -> Router:
    router = Router(name="guest")
    router.guest_message.register(guest)
    return router
