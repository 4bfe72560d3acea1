"""/art: parse the request, show a status message at once, hand the job to the service.

In groups `/art@this_bot` works (aiogram's Command filter ignores other bots' commands),
and `/art` sent as a reply draws the replied message's text or caption, or what is said in
a replied voice message (handlers/voice.py). In private chats any other text that is not a
command is read like `/art`'s arguments (`PRIVATE_TEXT_PROMPTS`).
"""

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot.core.prompt import ArtRequest, PromptError
from bot.services.art import STATUS_GRACE, ArtService
from bot.services.voice import VoiceService
from bot.telegram.drafts import Drafts
from bot.telegram.filters import Magic
from bot.telegram.identity import sender_key
from bot.telegram.keyboards import status_keyboard
from bot.telegram.notices import Notices
from bot.telegram.sent import send_for_id
from bot.telegram.texts import Texts
from handlers.voice import start_voice_prompt


async def art(
    message: Message,
    command: CommandObject,
    art_service: ArtService,
    voice_service: VoiceService,
    texts: Texts,
    i18n: I18n,
    notices: Notices,
    drafts: Drafts | None,
) -> None:
    locale = i18n.current_locale
    user_id = sender_key(message)
    replied = message.reply_to_message
    replied_text = (replied.text or replied.caption) if replied else None
    try:
        request = await art_service.parse(user_id, command.args, replied_text)
    except PromptError as error:
        voice = replied.voice if replied is not None and voice_service.enabled else None
        if error.code == "empty_prompt" and voice is not None:
            await start_voice_prompt(
                message,
                voice,
                voice_service=voice_service,
                texts=texts,
                notices=notices,
                locale=locale,
                command_args=command.args,
                from_reply=True,
            )
            return
        await notices.reply(message, texts.prompt_error(locale, error))
        return
    await draw(message, request, art_service, texts, notices, locale, drafts)


async def plain_text(
    message: Message,
    art_service: ArtService,
    texts: Texts,
    i18n: I18n,
    notices: Notices,
    drafts: Drafts | None,
) -> None:
    """A private chat's text is a prompt, flags included (`--model` too, as with /art)."""
    locale = i18n.current_locale
    try:
        request = await art_service.parse(sender_key(message), message.text)
    except PromptError as error:
        await notices.reply(message, texts.prompt_error(locale, error))
        return
    await draw(message, request, art_service, texts, notices, locale, drafts)


async def is_text_prompt(message: Message, private_text_prompts: bool) -> bool:
    """Text typed in a private chat that is not a command (nor an inline result posted
    through this bot, which carries the bot's own status text)."""
    return (
        private_text_prompts
        and message.chat.type == ChatType.PRIVATE
        and message.via_bot is None
        and not (message.text or "/").startswith("/")
    )


async def draw(
    message: Message,
    request: ArtRequest,
    art_service: ArtService,
    texts: Texts,
    notices: Notices,
    locale: str,
    drafts: Drafts | None = None,
) -> None:
    """Admit the parsed request, store its job and answer with the status message, or
    in a private chat with a live draft where Telegram takes it (bot/telegram/drafts.py)."""
    job = art_service.new_job(
        request,
        chat_id=message.chat.id,
        user_id=sender_key(message),
        locale=locale,
        reply_to_message_id=message.message_id,
        job_id=art_service.job_ids.of("message", message.chat.id, message.message_id),
    )
    refusal = await art_service.admit(job)
    if refusal is not None:
        if not refusal.silent:
            await notices.reply(message, texts.refusal(locale, refusal))
        return
    if drafts is not None and drafts.fits(job) and await drafts.open(job):
        await art_service.start(job)  # no status message to wait for
        return
    started = await art_service.start(job, status_grace=STATUS_GRACE)
    if started is None:
        return  # this message came twice
    reply = message.reply(
        texts.status(started), reply_markup=status_keyboard(texts, locale, started.id)
    )
    status = await send_for_id(reply)
    await art_service.attach_status(started, status.message_id)


def create_router() -> Router:
    router = Router(name="art")
    router.message.register(art, Command("art"))
    router.message.register(plain_text, Magic(F.text), is_text_prompt)
    return router
