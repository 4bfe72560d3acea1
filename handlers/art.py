"""/art: parse the request, show a status message at once, hand the job to the tracker."""

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot.art_service import ArtService
from bot.prompt import PromptError
from bot.texts import Texts


async def art(
    message: Message, command: CommandObject, art_service: ArtService, texts: Texts, i18n: I18n
) -> None:
    locale = i18n.current_locale
    try:
        request = art_service.parse(command.args)
    except PromptError as error:
        await message.reply(texts.prompt_error(locale, error))
        return
    job = art_service.new_job(
        request,
        chat_id=message.chat.id,
        user_id=message.from_user.id if message.from_user else message.chat.id,
        locale=locale,
        reply_to_message_id=message.message_id,
    )
    status = await message.reply(texts.status(job))
    await art_service.start(job, status.message_id)


def create_router() -> Router:
    router = Router(name="art")
    router.message.register(art, Command("art"))
    return router
