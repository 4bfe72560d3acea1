"""/start, /help and /privacy: static texts from locales/."""

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot.telegram.texts import Texts


async def start(message: Message, texts: Texts, i18n: I18n) -> None:
    await message.answer(texts.start(i18n.current_locale))


async def help_(message: Message, texts: Texts, i18n: I18n) -> None:
    await message.answer(texts.help(i18n.current_locale))


async def privacy(message: Message, texts: Texts, i18n: I18n) -> None:
    await message.answer(texts.privacy(i18n.current_locale))


def create_router() -> Router:
    router = Router(name="info")
    router.message.register(start, CommandStart())
    router.message.register(help_, Command("help"))
    router.message.register(privacy, Command("privacy"))
    return router
