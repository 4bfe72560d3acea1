"""Voice messages in private chats are prompts: check the API's limits on the message,
admit the request, answer with a status message at once, and let the voice service hear
and draw it. `/art` replying to a voice message comes here through handlers/art.py."""

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.types import Message, Voice
from aiogram.utils.i18n import I18n

from bot.core.limits import Refusal
from bot.core.prompt import PromptError
from bot.core.voice import check_voice
from bot.services.art import STATUS_GRACE
from bot.services.voice import Duplicate, VoicePrompt, VoiceService
from bot.telegram.filters import Magic
from bot.telegram.identity import sender_key
from bot.telegram.notices import Notices
from bot.telegram.texts import Texts


async def voice(
    message: Message, voice_service: VoiceService, texts: Texts, i18n: I18n, notices: Notices
) -> None:
    if not voice_service.enabled or message.voice is None:
        return
    await start_voice_prompt(
        message,
        message.voice,
        voice_service=voice_service,
        texts=texts,
        notices=notices,
        locale=i18n.current_locale,
    )


async def start_voice_prompt(
    message: Message,
    voice: Voice,
    *,
    voice_service: VoiceService,
    texts: Texts,
    notices: Notices,
    locale: str,
    command_args: str | None = None,
    from_reply: bool = False,
) -> None:
    """`message` asked for `voice` to be drawn: the voice itself, or `/art` replying to it."""
    issue = check_voice(voice.duration, voice.file_size)
    if issue is not None:
        await notices.reply(message, texts.voice_issue(locale, issue))
        return
    user_id = sender_key(message)
    job_id = voice_service.job_ids.of("message", message.chat.id, message.message_id)
    # What `/art --n N` replying to the voice asks for is checked and counted now; what is
    # said is not known yet (a spoken `--n` is refused once heard).
    try:
        flags = await voice_service.flags(user_id, command_args)
    except PromptError as error:
        await message.reply(texts.prompt_error(locale, error))
        return
    pictures = flags.variants
    admission = await voice_service.admit(
        user_id, job_id, chat_id=message.chat.id, pictures=pictures
    )
    if isinstance(admission, Duplicate):
        return
    if isinstance(admission, Refusal):
        if not admission.silent:
            await notices.reply(message, texts.refusal(locale, admission))
        return
    prompt = VoicePrompt(
        file_id=voice.file_id,
        chat_id=message.chat.id,
        user_id=user_id,
        locale=locale,
        job_id=job_id,
        request_message_id=message.message_id,
        command_args=command_args,
        from_reply=from_reply,
    )
    job = await voice_service.listen(prompt, flags, status_grace=STATUS_GRACE)
    if job is None:
        return
    status = await message.reply(texts.get(locale, "voice.listening"))
    await voice_service.attach_status(job, status.message_id)


def create_router() -> Router:
    router = Router(name="voice")
    router.message.register(voice, Magic(F.voice), Magic(F.chat.type == ChatType.PRIVATE))
    return router
