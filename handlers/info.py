"""/start, /help and /privacy: static texts from locales/."""

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot.texts import Texts

router = Router(name="info")


@router.message(CommandStart())
async def start(message: Message, texts: Texts, i18n: I18n) -> None:
    await message.answer(texts.get(i18n.current_locale, "start"))


@router.message(Command("help"))
async def help_(message: Message, texts: Texts, i18n: I18n) -> None:
    await message.answer(texts.help(i18n.current_locale))


@router.message(Command("privacy"))
async def privacy(message: Message, texts: Texts, i18n: I18n) -> None:
    await message.answer(texts.privacy(i18n.current_locale))
